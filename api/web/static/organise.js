// The case page's organising tools (issue 18, item 3): a checkbox on each evidence and record row, the
// still, duration and tags of each item, and the selection toolbar (tag, untag, hold, share, export,
// assign from an intake case).  Every action goes to the server, which applies the services' rules
// item by item and answers with each item's outcome; this script only shows it.
// Everything is rendered with textContent: nothing from the server is ever parsed as HTML.

const panel = document.getElementById("organise");
const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

function say(key, values = {}) {
  let text = panel.dataset[key] ?? "";
  for (const [name, value] of Object.entries(values)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

function rows() {
  return [...document.querySelectorAll("#evidence tr.original[data-blake3], #records tr[data-blake3]")];
}

function selected() {
  return [...document.querySelectorAll("input.pick:checked")].map((box) => box.value);
}

function showCount() {
  const n = selected().length;
  document.getElementById("bulk-count").textContent = n ? say("tSelected", { n }) : say("tNone");
}

function nameOf(row) {
  return row.dataset.name ?? row.dataset.blake3.slice(0, 12);
}

function decorate(data) {
  for (const row of rows()) {
    const hexd = row.dataset.blake3;
    row.dataset.name = row.querySelector("td[data-label]")?.textContent.trim() || hexd.slice(0, 12);
    const first = row.cells[0];
    if (data.can_act) {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.className = "pick";
      box.value = hexd;
      box.setAttribute("aria-label", `${say("tSelect")} ${nameOf(row)}`);
      box.addEventListener("change", showCount);
      first.prepend(box, " ");
    }
    const still = data.stills[hexd];
    const fileCell = row.querySelector("td[data-label]");
    if (still && fileCell) {
      const wrap = document.createElement("span");
      wrap.className = "still";
      if (still.src) {
        const img = document.createElement("img");
        img.src = still.src;
        img.alt = say("tStill");
        img.loading = "lazy";
        img.width = 96;
        wrap.append(img);
      }
      if (still.duration) {
        const time = document.createElement("span");
        time.className = "duration";
        time.title = say("tDuration");
        time.textContent = still.duration;
        wrap.append(time);
      }
      fileCell.prepend(wrap);
    }
    const tags = data.item_tags[hexd] ?? [];
    const assigned = data.assigned[hexd];
    if ((tags.length || assigned) && fileCell) {
      const line = document.createElement("span");
      line.className = "item-tags";
      for (const tag of tags) {
        const chip = document.createElement("span");
        chip.className = "tag-chip";
        chip.dataset.tag = tag.name;
        chip.textContent = tag.label;
        line.append(chip, " ");
      }
      if (assigned) {
        const note = document.createElement("span");
        note.className = "flag assigned";
        note.textContent = say("tAssigned", { case: assigned });
        line.append(note);
      }
      fileCell.append(document.createElement("br"), line);
    }
  }
}

function showFields() {
  const action = document.getElementById("bulk-action").value;
  for (const label of panel.querySelectorAll("label[data-for]")) {
    label.hidden = !label.dataset.for.split(" ").includes(action);
  }
}

function report(results, link) {
  const list = document.getElementById("bulk-results");
  list.replaceChildren();
  const names = new Map(rows().map((row) => [row.dataset.blake3, nameOf(row)]));
  for (const r of results) {
    const item = document.createElement("li");
    item.className = r.ok ? "ok" : "bad";
    item.dataset.item = r.item;
    item.textContent = `${r.ok ? "✓" : "✗"} ${names.get(r.item) ?? r.item.slice(0, 12)}: ${
      r.ok ? say("tOk") : `${say("tFailed")} ${r.message ?? r.error}`}`;
    list.append(item);
  }
  const box = document.getElementById("bulk-link");
  box.hidden = !link;
  box.textContent = link ? `${say("tLink")} ${link}` : "";
}

async function apply() {
  const items = selected();
  const action = document.getElementById("bulk-action").value;
  if (!items.length) {
    report([], "");
    document.getElementById("bulk-count").textContent = say("tNone");
    return;
  }
  const value = (id) => document.getElementById(id).value.trim();
  if (action === "export") {
    const form = document.getElementById("bulk-export-form");
    form.querySelectorAll('input[name="items"]').forEach((input) => input.remove());
    for (const hexd of items) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = "items";
      input.value = hexd;
      form.append(input);
    }
    form.elements.purpose.value = value("bulk-purpose");
    form.submit();
    return;
  }
  const body = { action, items, tag: value("bulk-tag"), reason: value("bulk-reason"), to_case: value("bulk-to-case") };
  if (action === "share") {
    body.share = { organisation: value("bulk-organisation"), person: value("bulk-person"),
                   purpose: value("bulk-purpose"), days: Number.parseInt(value("bulk-days"), 10) || 0 };
  }
  const button = document.getElementById("bulk-apply");
  button.disabled = true;
  try {
    const response = await fetch(`/cases/${encodeURIComponent(panel.dataset.case)}/bulk`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf(), Accept: "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) {
      report(items.map((item) => ({ item, ok: false, message: answer.message ?? response.statusText })), "");
      return;
    }
    report(answer.results, answer.link ?? "");
  } finally {
    button.disabled = false;
  }
}

if (panel) {
  const data = JSON.parse(document.getElementById("organise-data").textContent);
  decorate(data);
  if (data.can_act) {
    showFields();
    document.getElementById("bulk-action").addEventListener("change", showFields);
    document.getElementById("bulk-apply").addEventListener("click", apply);
    showCount();
  }
}
