// The staff player's tools (issue 18 item 4): frame stepping at the clip's recorded frame rate, speeds,
// keyboard shortcuts (listed in the "?" overlay) and bookmarks at a moment of the recording.
// Every word shown comes from the page (both languages); everything from the server is set with
// textContent, never parsed as HTML.  Bookmarks go through /ui/api/cases/{case}/bookmarks: the API's
// own handlers, so the author-only rule is the service's.

const tools = document.getElementById("player-tools");
const media = document.getElementById("player");

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const JUMP_S = 10;
const SEEK_S = 5;

function pad(n, width = 2) { return String(n).padStart(width, "0"); }

// Milliseconds as H:MM:SS.mmm.
export function formatMs(ms) {
  const whole = Math.max(0, Math.floor(ms));
  const s = Math.floor(whole / 1000);
  return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}.${pad(whole % 1000, 3)}`;
}

// "[[H:]M:]S[.mmm]" as milliseconds; null when it is not a time.
export function parseTime(text) {
  const m = /^(?:(?:(\d+):)?(\d{1,2}):)?(\d+)(?:\.(\d{1,3}))?$/.exec(text.trim());
  if (!m) return null;
  const [h, min, s] = [Number(m[1] ?? 0), Number(m[2] ?? 0), Number(m[3])];
  return ((h * 60 + min) * 60 + s) * 1000 + Number((m[4] ?? "").padEnd(3, "0"));
}

if (tools && media) {
  const fps = Number(tools.dataset.fps) || 30;
  const timeOut = document.getElementById("player-time");
  const frameOut = document.getElementById("player-frame");
  const speed = document.getElementById("player-speed");
  const help = document.getElementById("shortcuts-help");
  const form = document.getElementById("bookmark-form");
  const timeField = document.getElementById("bookmark-time");
  const noteField = document.getElementById("bookmark-note");
  const save = document.getElementById("bookmark-save");
  const cancel = document.getElementById("bookmark-cancel");
  const list = document.getElementById("bookmark-list");
  const empty = document.getElementById("bookmark-empty");
  const error = document.getElementById("bookmark-error");
  const itemTemplate = document.getElementById("bookmark-item");
  const speeds = [...speed.options].map((o) => Number(o.value));
  let editing = null; // the id of the bookmark the form edits; null: the form adds one

  // A position inside frame n (just after its start), so the browser shows frame n and not n - 1.
  const frameOf = (seconds) => Math.floor(seconds * fps + 1e-3);
  // The shown time: the position less the nudge into the frame, to the nearest millisecond (frame 1 at
  // 15 frames/s shows 0:00:00.067, as the frame's own start time).
  const nowMs = () => Math.max(0, Math.round((media.currentTime - 0.001 / fps) * 1000));

  function show() {
    timeOut.textContent = formatMs(nowMs());
    frameOut.textContent = `${tools.dataset.frameLabel} ${frameOf(media.currentTime)}`;
  }

  function seekTo(seconds) {
    const end = Number.isFinite(media.duration) ? media.duration : Infinity;
    media.currentTime = Math.min(Math.max(0, seconds), end);
    show();
  }

  function stepFrames(n) {
    media.pause();
    const last = Number.isFinite(media.duration) ? Math.max(0, Math.ceil(media.duration * fps) - 1) : Infinity;
    const frame = Math.min(Math.max(0, frameOf(media.currentTime) + n), last);
    seekTo((frame + 0.001) / fps);
  }

  function setSpeed(rate) {
    media.playbackRate = rate;
    speed.value = String(rate);
  }

  function stepSpeed(direction) {
    const i = speeds.findIndex((s) => Math.abs(s - media.playbackRate) < 1e-9);
    const next = speeds[Math.min(Math.max(0, (i < 0 ? speeds.indexOf(1) : i) + direction), speeds.length - 1)];
    setSpeed(next);
  }

  const toggle = () => (media.paused ? media.play() : media.pause());

  function startBookmark() {
    media.pause();
    editing = null;
    save.textContent = save.dataset.add;
    cancel.hidden = true;
    timeField.value = formatMs(nowMs());
    noteField.value = "";
    noteField.focus();
  }

  function toggleHelp() {
    if (help.open) help.close();
    else help.showModal();
  }

  const KEYS = {
    " ": toggle, k: toggle, K: toggle,
    j: () => seekTo(media.currentTime - JUMP_S), J: () => seekTo(media.currentTime - JUMP_S),
    l: () => seekTo(media.currentTime + JUMP_S), L: () => seekTo(media.currentTime + JUMP_S),
    ArrowLeft: () => seekTo(media.currentTime - SEEK_S), ArrowRight: () => seekTo(media.currentTime + SEEK_S),
    ",": () => stepFrames(-1), ".": () => stepFrames(1),
    "<": () => stepSpeed(-1), ">": () => stepSpeed(1),
    Home: () => seekTo(0), End: () => seekTo(media.duration),
    b: startBookmark, B: startBookmark,
    m: () => { media.muted = !media.muted; }, M: () => { media.muted = !media.muted; },
    f: () => fullscreen(), F: () => fullscreen(),
    "?": toggleHelp,
  };

  function fullscreen() {
    if (document.fullscreenElement) document.exitFullscreen();
    else if (media.requestFullscreen) media.requestFullscreen();
  }

  // Typing in a field (the note, the time, the speed list, the sign-out form...) is never a shortcut.
  const typing = (target) => target instanceof Element
    && target.closest('input, textarea, select, [contenteditable]:not([contenteditable="false"])');

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    if (help.open && event.key !== "?") return; // the overlay is modal; Esc closes it
    const action = KEYS[event.key];
    if (!action) return;
    event.preventDefault(); // space must not also click a focused button or scroll the page
    action();
  });

  document.getElementById("frame-back").addEventListener("click", () => stepFrames(-1));
  document.getElementById("frame-forward").addEventListener("click", () => stepFrames(1));
  document.getElementById("shortcuts-open").addEventListener("click", toggleHelp);
  speed.addEventListener("change", () => setSpeed(Number(speed.value)));
  media.addEventListener("ratechange", () => { speed.value = String(media.playbackRate); });
  for (const name of ["timeupdate", "seeked", "loadedmetadata", "pause"]) media.addEventListener(name, show);

  // -- bookmarks --------------------------------------------------------------------------------

  async function call(method, url, body) {
    const response = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.message ?? response.statusText);
    return answer;
  }

  function fail(err) {
    error.textContent = `${tools.dataset.failed}: ${err.message}`;
    error.hidden = false;
  }

  const mine = (mark) => tools.dataset.admin === "1" || String(mark.author_id) === tools.dataset.me;

  function render(marks) {
    list.replaceChildren(...marks.map((mark) => {
      const li = itemTemplate.content.firstElementChild.cloneNode(true);
      li.dataset.id = String(mark.id);
      li.dataset.atMs = String(mark.at_ms);
      const seek = li.querySelector(".bookmark-seek");
      seek.textContent = formatMs(mark.at_ms);
      seek.addEventListener("click", () => {
        media.pause();
        seekTo(mark.at_ms / 1000 + 0.0005);
      });
      li.querySelector(".bookmark-note").textContent = mark.note;
      li.querySelector(".bookmark-meta").textContent =
        mark.edited_by ? `${mark.author} · ${tools.dataset.edited} ${mark.edited_by}` : mark.author;
      const actions = li.querySelector(".bookmark-actions");
      actions.hidden = !mine(mark);
      li.querySelector(".bookmark-edit").addEventListener("click", () => {
        editing = mark.id;
        timeField.value = formatMs(mark.at_ms);
        noteField.value = mark.note;
        save.textContent = save.dataset.save;
        cancel.hidden = false;
        noteField.focus();
      });
      li.querySelector(".bookmark-remove").addEventListener("click", async () => {
        if (!window.confirm(tools.dataset.confirmRemove)) return;
        try {
          await call("POST", `${tools.dataset.url}/${mark.id}/remove`);
          await load();
        } catch (err) { fail(err); }
      });
      return li;
    }));
    empty.hidden = marks.length > 0;
  }

  async function load() {
    const answer = await call("GET", `${tools.dataset.url}?blake3=${encodeURIComponent(tools.dataset.target)}`);
    render(answer.bookmarks);
  }

  function resetForm() {
    editing = null;
    timeField.value = "";
    noteField.value = "";
    save.textContent = save.dataset.add;
    cancel.hidden = true;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const typed = timeField.value.trim();
    const atMs = typed ? parseTime(typed) : nowMs();
    if (atMs === null) {
      error.textContent = tools.dataset.badTime;
      error.hidden = false;
      timeField.focus();
      return;
    }
    save.disabled = true;
    try {
      if (editing === null) {
        await call("POST", tools.dataset.url, { blake3: tools.dataset.target, at_ms: atMs, note: noteField.value });
      } else {
        await call("POST", `${tools.dataset.url}/${editing}`, { at_ms: atMs, note: noteField.value });
      }
      resetForm();
      await load();
    } catch (err) {
      fail(err);
    } finally {
      save.disabled = false;
    }
  });
  cancel.addEventListener("click", resetForm);

  show();
  load().catch(fail);
}
