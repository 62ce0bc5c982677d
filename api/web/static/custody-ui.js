// Small enhancements shared by the pages: copy buttons and the "verify now" buttons.
// Everything is rendered with textContent: nothing from the server is ever parsed as HTML.

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

async function copy(button) {
  const text = button.dataset.copy ?? "";
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API (plain http on a LAN host): select the text so Ctrl+C copies it.
    const code = button.previousElementSibling;
    if (code) {
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
    return;
  }
  const label = button.textContent;
  button.textContent = button.dataset.done ?? "✓";
  setTimeout(() => { button.textContent = label; }, 1500);
}

async function verifyNow(button) {
  const cell = button.closest("td");
  const result = cell.querySelector(".result");
  button.disabled = true;
  result.className = "result muted";
  result.textContent = button.dataset.busy;
  try {
    const response = await fetch(button.dataset.url, {
      method: "POST", headers: { "X-CSRF-Token": csrf() }, credentials: "same-origin",
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.message ?? response.statusText);
    result.className = body.match ? "result ok" : "result bad";
    result.textContent = body.match ? `✓ ${button.dataset.match}` : `✗ ${button.dataset.mismatch}`;
    result.title = `BLAKE3 ${body.now.blake3}\nSHA-256 ${body.now.sha256}\n${body.now.size} B`;
  } catch (error) {
    result.className = "result bad";
    result.textContent = `${button.dataset.failed}: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  if (button.classList.contains("copy")) copy(button);
  else if (button.classList.contains("verify")) verifyNow(button);
});

// A takedown whose reason must publish an explanation (§二: 作出必要的说明) makes the explanation box
// required in the form too; the server refuses one without it either way.
function explainedTakedown(select) {
  const box = document.getElementById(select.dataset.explanation ?? "");
  if (box) box.required = (select.dataset.explained ?? "").split(" ").includes(select.value);
}

document.addEventListener("change", (event) => {
  const select = event.target.closest?.("select[data-explained]");
  if (select) explainedTakedown(select);
});
document.querySelectorAll("select[data-explained]").forEach(explainedTakedown);

// A text record on the player page: its bytes (read through the same logged URL as "Open") shown
// inline as plain text, decoded as UTF-8, never as HTML.
async function showText(pre) {
  try {
    const response = await fetch(pre.dataset.textSrc, { credentials: "same-origin" });
    if (!response.ok) throw new Error(response.statusText);
    pre.textContent = new TextDecoder("utf-8").decode(await response.arrayBuffer());
    pre.classList.remove("muted");
  } catch (error) {
    pre.textContent = `${pre.dataset.failed ?? "✗"} ${error.message}`;
  }
}

document.querySelectorAll("pre[data-text-src]").forEach(showText);
