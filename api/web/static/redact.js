// The redaction editor (issue 19, item 4): tracks drawn over the source, saved as versions, rendered on
// the server, and the render played beside the source frame by frame.
// Everything from the server is shown with textContent: nothing is ever parsed as HTML.
//
// Geometry mirrors policy/redaction.py exactly, so what the editor shows between keyframes is what the
// render masks: the mask's size is the largest keyframe's (rounded up to even), its centre moves
// linearly between keyframes, its corner is rounded as Python's round() does (half to even), and it is
// masked from the first keyframe to the last.

/** Python's round(): the nearest integer, halves to the even neighbour. */
export function pyRound(x) {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** region_size(): the largest width and height among the keyframes, rounded up to even. */
export function regionSize(track) {
  const w = Math.max(...track.keyframes.map((k) => k.w));
  const h = Math.max(...track.keyframes.map((k) => k.h));
  return [w + (w % 2), h + (h % 2)];
}

/** position_at(): the mask's top-left corner at tMs, or null outside the track's span. */
export function positionAt(track, tMs) {
  const keys = track.keyframes;
  if (!(keys[0].t_ms <= tMs && tMs <= keys[keys.length - 1].t_ms)) return null;
  const [w, h] = regionSize(track);
  for (let i = 0; i + 1 < keys.length; i++) {
    const a = keys[i];
    const b = keys[i + 1];
    if (a.t_ms <= tMs && tMs <= b.t_ms) {
      // the same operations in the same order as the Python, so the doubles are the same
      const f = (tMs - a.t_ms) / (b.t_ms - a.t_ms);
      const cx = a.x + a.w / 2 + f * (b.x + b.w / 2 - a.x - a.w / 2);
      const cy = a.y + a.h / 2 + f * (b.y + b.h / 2 - a.y - a.h / 2);
      return [pyRound(cx - w / 2), pyRound(cy - h / 2)];
    }
  }
  const k = tMs >= keys[keys.length - 1].t_ms ? keys[keys.length - 1] : keys[0];
  return [pyRound(k.x + k.w / 2 - w / 2), pyRound(k.y + k.h / 2 - h / 2)];
}

/** The masked region at tMs in a frame of width x height (the filter graph keeps it in the frame). */
export function maskAt(track, tMs, width, height) {
  const at = positionAt(track, tMs);
  if (at === null) return null;
  const [w, h] = regionSize(track);
  const clip = (v, size, frame) => Math.min(Math.max(v, 0), Math.max(frame - size, 0));
  return { x: clip(at[0], w, width), y: clip(at[1], h, height), w, h };
}

const HANDLE_PX = 10; // grab distance of a corner handle, in screen pixels
const MIN_BOX_PX = 4; // a drawn box smaller than this is a click, not a region
const POLL_MS = 500;
const FPS_SAMPLES = 9; // frame gaps measured before the frame rate is set
const TRACK_COLOUR = "#e11d48";
const SUGGESTION_COLOUR = "#f59e0b";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const $ = (id) => document.getElementById(id);

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function fill(template, fields) {
  return template.replace(/\{(\w+)\}/g, (whole, key) => (key in fields ? String(fields[key]) : whole));
}

class Editor {
  constructor(root) {
    this.root = root;
    this.caseId = root.dataset.case;
    this.source = root.dataset.source;
    this.purpose = root.dataset.purpose;
    this.canEdit = root.dataset.canEdit === "1";
    this.canRender = root.dataset.canRender === "1";
    this.s = JSON.parse($("redact-strings").textContent);
    this.video = $("source");
    this.rendered = $("rendered");
    this.canvas = $("overlay");
    this.ctx = this.canvas.getContext("2d");
    this.tracks = [];
    this.suggestions = [];
    this.audio = [];
    this.selected = null; // {list: "tracks" | "suggestions", index}
    this.project = null; // {id, version, hash}
    this.dirty = false;
    this.drag = null;
    this.audioStart = null;
    this.renderShown = null;
  }

  // -- time and frames ---------------------------------------------------------------------------------

  get fps() {
    const value = Number.parseFloat($("fps").value);
    return value > 0 ? value : 25;
  }

  get width() { return this.video.videoWidth || 1; }
  get height() { return this.video.videoHeight || 1; }

  frameOf(seconds) { return Math.floor(seconds * this.fps + 1e-3); }

  /** The time the current frame is shown at, in ms: what ffmpeg's ``t`` is for that frame. */
  nowMs() {
    if (!this.video.paused) return Math.round(this.video.currentTime * 1000);
    return Math.round((this.frameOf(this.video.currentTime) * 1000) / this.fps);
  }

  halfFrameMs() { return 500 / this.fps; }

  step(frames) {
    const last = Math.max(0, this.frameOf(this.video.duration || 0) - 1);
    const frame = Math.min(Math.max(this.frameOf(this.video.currentTime) + frames, 0), last);
    this.video.pause();
    // the middle of the frame, so rounding never lands on its neighbour
    const target = (frame + 0.5) / this.fps;
    this.video.currentTime = target;
    if (!this.rendered.closest("figure").hidden) {
      this.rendered.pause();
      this.rendered.currentTime = target;
    }
    this.showTime();
    this.draw();
  }

  get following() { return !this.rendered.closest("figure").hidden && $("sync").checked; }

  togglePlay() {
    if (this.video.paused) {
      if (this.following) {
        this.rendered.currentTime = this.video.currentTime;
        this.rendered.play();
      }
      this.video.play();
    } else {
      this.video.pause();
      if (this.following) this.rendered.pause();
    }
  }

  syncRendered() {
    if (!this.following) return;
    if (Math.abs(this.rendered.currentTime - this.video.currentTime) > (this.video.paused ? 0.001 : 0.15)) {
      this.rendered.currentTime = this.video.currentTime;
    }
  }

  showTime() {
    $("time").textContent = this.video.currentTime.toFixed(3);
    const frame = this.frameOf(this.video.currentTime);
    $("frame").textContent = String(frame);
    $("frame-source").textContent = fill(this.s["redact.frame"], { n: frame });
    $("frame-source").dataset.frame = String(frame);
    $("play").textContent = this.video.paused ? this.root.dataset.playLabel : this.root.dataset.pauseLabel;
    $("play").setAttribute("aria-pressed", this.video.paused ? "false" : "true");
  }

  showRenderedFrame() {
    const frame = this.frameOf(this.rendered.currentTime);
    $("frame-rendered").textContent = fill(this.s["redact.frame"], { n: frame });
    $("frame-rendered").dataset.frame = String(frame);
  }

  // -- tracks ----------------------------------------------------------------------------------------------

  list(name) { return name === "suggestions" ? this.suggestions : this.tracks; }

  current() {
    if (this.selected === null) return null;
    return this.list(this.selected.list)[this.selected.index] ?? null;
  }

  keyAt(track, tMs) {
    return track.keyframes.findIndex((k) => Math.abs(k.t_ms - tMs) <= this.halfFrameMs());
  }

  /** The box the user edits at tMs: the keyframe there, else the mask, else the nearest keyframe. */
  boxAt(track, tMs) {
    const at = this.keyAt(track, tMs);
    if (at >= 0) {
      const k = track.keyframes[at];
      return { x: k.x, y: k.y, w: k.w, h: k.h, key: true };
    }
    const mask = maskAt(track, tMs, this.width, this.height);
    if (mask) return { ...mask, key: false };
    const keys = track.keyframes;
    const k = tMs < keys[0].t_ms ? keys[0] : keys[keys.length - 1];
    return { x: k.x, y: k.y, w: k.w, h: k.h, key: false, outside: true };
  }

  fit(box) {
    const w = Math.max(2, Math.min(Math.round(box.w), this.width));
    const h = Math.max(2, Math.min(Math.round(box.h), this.height));
    const x = Math.min(Math.max(Math.round(box.x), 0), this.width - w);
    const y = Math.min(Math.max(Math.round(box.y), 0), this.height - h);
    return { x, y, w, h };
  }

  /** Put a keyframe at tMs (replacing one within half a frame of it). */
  setKey(track, tMs, box) {
    const { x, y, w, h } = this.fit(box);
    const at = this.keyAt(track, tMs);
    if (at >= 0) {
      Object.assign(track.keyframes[at], { x, y, w, h });
    } else {
      track.keyframes.push({ t_ms: tMs, x, y, w, h });
      track.keyframes.sort((a, b) => a.t_ms - b.t_ms);
    }
    this.changed();
  }

  addTrack(box) {
    const track = { shape: $("shape").value, mode: $("mode").value, label: $("label").value.trim(), keyframes: [] };
    this.tracks.push(track);
    this.selected = { list: "tracks", index: this.tracks.length - 1 };
    this.setKey(track, this.nowMs(), box);
  }

  addBox() {
    const w = Math.round(this.width / 4);
    const h = Math.round(this.height / 4);
    this.addTrack({ x: (this.width - w) / 2, y: (this.height - h) / 2, w, h });
    this.canvas.focus();
  }

  setKeyframe() {
    const track = this.current();
    if (!track) return this.error(this.s["redact.no_track"]);
    const box = this.boxAt(track, this.nowMs());
    this.setKey(track, this.nowMs(), box);
  }

  deleteKeyframe() {
    const track = this.current();
    if (!track) return this.error(this.s["redact.no_track"]);
    const at = this.keyAt(track, this.nowMs());
    if (at < 0) return;
    track.keyframes.splice(at, 1);
    if (track.keyframes.length === 0) return this.deleteTrack();
    this.changed();
  }

  deleteTrack(list = this.selected?.list, index = this.selected?.index) {
    if (list === undefined || index === undefined) return this.error(this.s["redact.no_track"]);
    this.list(list).splice(index, 1);
    this.selected = null;
    this.changed();
  }

  accept(index) {
    const [track] = this.suggestions.splice(index, 1);
    this.tracks.push(track);
    this.selected = { list: "tracks", index: this.tracks.length - 1 };
    this.changed();
  }

  select(list, index) {
    this.selected = { list, index };
    const track = this.current();
    if (track && this.canEdit) {
      $("shape").value = track.shape;
      $("mode").value = track.mode;
      $("label").value = track.label;
    }
    this.changed(false);
  }

  /** The shape, mode and label fields apply to the selected track. */
  restyle() {
    const track = this.current();
    if (!track) return;
    track.shape = $("shape").value;
    track.mode = $("mode").value;
    track.label = $("label").value.trim();
    this.changed();
  }

  changed(dirty = true) {
    if (dirty) {
      this.dirty = true;
      $("version-state").textContent = this.s["redact.unsaved"];
    }
    this.showLists();
    this.draw();
  }

  // -- drawing ---------------------------------------------------------------------------------------------

  draw() {
    const { canvas, ctx } = this;
    if (canvas.width !== this.width || canvas.height !== this.height) {
      canvas.width = this.width;
      canvas.height = this.height;
    }
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const tMs = this.nowMs();
    const scale = this.width / (canvas.getBoundingClientRect().width || this.width);
    ctx.lineWidth = 2 * scale;
    for (const list of ["suggestions", "tracks"]) {
      this.list(list).forEach((track, index) => {
        const chosen = this.selected?.list === list && this.selected.index === index;
        const colour = list === "tracks" ? TRACK_COLOUR : SUGGESTION_COLOUR;
        const mask = maskAt(track, tMs, this.width, this.height);
        if (mask) {
          ctx.strokeStyle = colour;
          ctx.fillStyle = list === "tracks" ? "rgba(225, 29, 72, 0.18)" : "rgba(245, 158, 11, 0.15)";
          ctx.setLineDash(list === "tracks" ? [] : [8 * scale, 5 * scale]);
          this.shape(track.shape, mask);
          ctx.fill();
          ctx.stroke();
        }
        if (chosen) {
          const box = this.drag?.box ?? this.boxAt(track, tMs);
          ctx.setLineDash(box.key ? [] : [3 * scale, 3 * scale]);
          ctx.strokeStyle = "#ffffff";
          ctx.strokeRect(box.x, box.y, box.w, box.h);
          ctx.fillStyle = "#ffffff";
          const s = 6 * scale;
          for (const [cx, cy] of this.corners(box)) ctx.fillRect(cx - s / 2, cy - s / 2, s, s);
        }
      });
    }
    if (this.drag?.mode === "draw") {
      ctx.setLineDash([4 * scale, 4 * scale]);
      ctx.strokeStyle = "#ffffff";
      this.shape($("shape").value, this.drag.box);
      ctx.stroke();
    }
    ctx.setLineDash([]);
  }

  shape(kind, box) {
    const { ctx } = this;
    ctx.beginPath();
    if (kind === "ellipse") {
      ctx.ellipse(box.x + box.w / 2, box.y + box.h / 2, box.w / 2, box.h / 2, 0, 0, 2 * Math.PI);
    } else {
      ctx.rect(box.x, box.y, box.w, box.h);
    }
  }

  corners(box) {
    return [[box.x, box.y], [box.x + box.w, box.y], [box.x, box.y + box.h], [box.x + box.w, box.y + box.h]];
  }

  point(event) {
    const rect = this.canvas.getBoundingClientRect();
    return [(event.clientX - rect.left) * (this.width / rect.width), (event.clientY - rect.top) * (this.height / rect.height)];
  }

  pointerDown(event) {
    if (!this.canEdit || event.button !== 0) return;
    this.video.pause();
    const [px, py] = this.point(event);
    const tMs = this.nowMs();
    const grab = HANDLE_PX * (this.width / this.canvas.getBoundingClientRect().width);
    this.canvas.setPointerCapture(event.pointerId);
    const track = this.current();
    if (track) {
      const box = this.boxAt(track, tMs);
      const corner = this.corners(box).findIndex(([cx, cy]) => Math.abs(cx - px) <= grab && Math.abs(cy - py) <= grab);
      if (corner >= 0) {
        this.drag = { mode: "resize", corner, start: [px, py], from: box, box: { ...box } };
        return;
      }
    }
    for (const list of ["tracks", "suggestions"]) {
      const items = this.list(list);
      for (let index = items.length - 1; index >= 0; index--) {
        const box = maskAt(items[index], tMs, this.width, this.height) ?? null;
        const inside = box && px >= box.x && px <= box.x + box.w && py >= box.y && py <= box.y + box.h;
        const chosen = this.selected?.list === list && this.selected.index === index;
        const edit = chosen ? this.boxAt(items[index], tMs) : null;
        const inEdit = edit && px >= edit.x && px <= edit.x + edit.w && py >= edit.y && py <= edit.y + edit.h;
        if (inside || inEdit) {
          if (!chosen) this.select(list, index);
          const from = this.boxAt(items[index], tMs);
          this.drag = { mode: "move", start: [px, py], from, box: { ...from } };
          return;
        }
      }
    }
    this.drag = { mode: "draw", start: [px, py], box: { x: px, y: py, w: 0, h: 0 } };
  }

  pointerMove(event) {
    if (!this.drag) return;
    const [px, py] = this.point(event);
    const [sx, sy] = this.drag.start;
    const { from } = this.drag;
    if (this.drag.mode === "draw") {
      this.drag.box = { x: Math.min(sx, px), y: Math.min(sy, py), w: Math.abs(px - sx), h: Math.abs(py - sy) };
    } else if (this.drag.mode === "move") {
      this.drag.box = { ...this.fit({ ...from, x: from.x + px - sx, y: from.y + py - sy }), key: true };
    } else {
      const left = this.drag.corner % 2 === 0;
      const top = this.drag.corner < 2;
      const x0 = left ? px : from.x;
      const x1 = left ? from.x + from.w : px;
      const y0 = top ? py : from.y;
      const y1 = top ? from.y + from.h : py;
      this.drag.box = { x: Math.min(x0, x1), y: Math.min(y0, y1), w: Math.abs(x1 - x0), h: Math.abs(y1 - y0), key: true };
    }
    this.draw();
  }

  pointerUp() {
    const drag = this.drag;
    this.drag = null;
    if (!drag) return;
    if (drag.mode === "draw") {
      if (drag.box.w >= MIN_BOX_PX && drag.box.h >= MIN_BOX_PX) {
        this.addTrack(drag.box);
      } else {
        this.selected = null;
        this.changed(false);
      }
      return;
    }
    const moved = ["x", "y", "w", "h"].some((k) => Math.round(drag.box[k]) !== Math.round(drag.from[k]));
    if (moved) this.setKey(this.current(), this.nowMs(), drag.box);
    else this.draw();
  }

  /** Arrow keys on the canvas: move the selected box (Shift: 10 px); with Alt, resize it. */
  nudge(event) {
    const track = this.current();
    const delta = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[event.key];
    if (!track || !delta || !this.canEdit) return false;
    const step = event.shiftKey ? 10 : 1;
    const box = { ...this.boxAt(track, this.nowMs()) };
    if (event.altKey) {
      box.w += delta[0] * step;
      box.h += delta[1] * step;
    } else {
      box.x += delta[0] * step;
      box.y += delta[1] * step;
    }
    this.setKey(track, this.nowMs(), box);
    return true;
  }

  // -- lists -----------------------------------------------------------------------------------------------

  trackText(track, index, kind) {
    const name = fill(this.s[kind === "tracks" ? "redact.track" : "redact.suggestion"], { n: index + 1 });
    const parts = [name, this.s[`redact.shape.${track.shape}`], this.s[`redact.mode.${track.mode}`]];
    if (track.label) parts.push(track.label);
    const keys = track.keyframes;
    parts.push(fill(this.s["redact.keyframes"], {
      n: keys.length, from: (keys[0].t_ms / 1000).toFixed(2), to: (keys[keys.length - 1].t_ms / 1000).toFixed(2),
    }));
    return parts.join(" · ");
  }

  showLists() {
    for (const kind of ["tracks", "suggestions"]) {
      const ul = $(kind);
      if (!ul) continue;
      ul.replaceChildren();
      this.list(kind).forEach((track, index) => {
        const li = el("li", null, { "data-index": String(index), class: kind === "tracks" ? "track" : "suggestion" });
        const chosen = this.selected?.list === kind && this.selected.index === index;
        const pick = el("button", this.trackText(track, index, kind), {
          type: "button", class: "link select", "aria-pressed": chosen ? "true" : "false",
        });
        pick.addEventListener("click", () => { this.select(kind, index); this.canvas.focus(); });
        li.append(pick);
        if (this.canEdit && kind === "suggestions") {
          const accept = el("button", this.s["redact.accept"], { type: "button", class: "accept" });
          accept.addEventListener("click", () => this.accept(index));
          li.append(" ", accept);
        }
        if (this.canEdit) {
          const drop = el("button", this.s["redact.delete"], { type: "button", class: "secondary delete" });
          drop.addEventListener("click", () => this.deleteTrack(kind, index));
          li.append(" ", drop);
        }
        ul.append(li);
      });
    }
    const audio = $("audio");
    audio.replaceChildren();
    this.audio.forEach((range, index) => {
      const li = el("li", `${(range.start_ms / 1000).toFixed(3)}–${(range.end_ms / 1000).toFixed(3)} s · `
        + this.s[`redact.audio.${range.mode}`], { "data-index": String(index), "data-mode": range.mode });
      if (this.canEdit) {
        const drop = el("button", this.s["redact.delete"], { type: "button", class: "secondary delete" });
        drop.addEventListener("click", () => { this.audio.splice(index, 1); this.changed(); });
        li.append(" ", drop);
      }
      audio.append(li);
    });
    if (this.audioStart !== null) {
      audio.append(el("li", fill(this.s["redact.range_open"], { t: (this.audioStart / 1000).toFixed(3) }),
        { class: "muted", id: "audio-open" }));
    }
  }

  audioMark(end) {
    const tMs = this.nowMs();
    if (!end) {
      this.audioStart = tMs;
      this.showLists();
      return;
    }
    const start = this.audioStart ?? 0;
    this.audioStart = null;
    if (start === tMs) return this.showLists();
    this.audio.push({ start_ms: Math.min(start, tMs), end_ms: Math.max(start, tMs), mode: $("audio-mode").value });
    this.audio.sort((a, b) => a.start_ms - b.start_ms || a.end_ms - b.end_ms);
    this.changed();
  }

  // -- the server ------------------------------------------------------------------------------------------

  async call(method, path, body) {
    const response = await fetch(`/ui/api/cases/${encodeURIComponent(this.caseId)}${path}`, {
      method, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.message ?? `${response.status} ${response.statusText}`);
    return answer;
  }

  error(message) {
    const box = $("redact-error");
    box.textContent = message;
    box.hidden = !message;
  }

  async load() {
    const listing = await this.call("GET", "/redactions");
    const mine = listing.versions.filter((v) => v.source_blake3 === this.source);
    const latest = mine.reduce((best, v) => (best === null || v.seq > best.seq ? v : best), null);
    if (latest) {
      this.tracks = latest.body.tracks.map((t) => ({ ...t, keyframes: t.keyframes.map((k) => ({ ...k })) }));
      this.audio = latest.body.audio.map((a) => ({ ...a }));
      this.project = { id: latest.project_id, version: latest.version, hash: latest.hash };
      if ($("name")) $("name").value = latest.name;
      this.showVersion();
    }
    this.versions = new Map(mine.map((v) => [`${v.project_id}/${v.version}`, v]));
    this.renders = listing.renders.filter((r) => this.versions.has(`${r.project_id}/${r.version}`));
    this.showRenders();
    for (const r of this.renders) if (r.state === "queued" || r.state === "running") this.poll(r.id);
  }

  showVersion() {
    if (!this.project) return;
    $("version-state").textContent = fill(this.s["redact.saved"], { version: this.project.version, project: this.project.id });
    if ($("version-hash")) $("version-hash").textContent = this.project.hash;
    if ($("render")) $("render").disabled = false;
  }

  async save() {
    this.error("");
    const body = { source: this.source, tracks: this.tracks, audio: this.audio };
    const name = $("name").value.trim();
    if (name) body.name = name; // no name: the API's default (an empty name is refused)
    if (this.project) Object.assign(body, { project: this.project.id, base_version: this.project.version });
    try {
      const saved = await this.call("POST", "/redactions", body);
      this.project = { id: saved.project_id, version: saved.version, hash: saved.hash };
      this.versions.set(`${saved.project_id}/${saved.version}`, { ...saved, source_blake3: this.source });
      this.dirty = false;
      this.showVersion();
    } catch (exc) {
      this.error(exc.message);
    }
  }

  async suggest() {
    this.error("");
    const state = $("suggest-state");
    $("suggest").disabled = true;
    state.textContent = this.s["redact.suggesting"];
    try {
      const answer = await this.call("POST", "/redactions/suggest", { source: this.source });
      this.suggestions.push(...answer.tracks);
      state.textContent = answer.tracks.length
        ? fill(this.s["redact.suggested"], { n: answer.tracks.length }) : this.s["redact.no_suggestions"];
      this.changed(false);
    } catch (exc) {
      state.textContent = "";
      this.error(exc.message);
    } finally {
      $("suggest").disabled = false;
    }
  }

  async render() {
    this.error("");
    if (!this.project || this.dirty) await this.save();
    if (!this.project || this.dirty) return;
    try {
      const queued = await this.call("POST", `/redactions/${encodeURIComponent(this.project.id)}/renders`,
        { version: this.project.version });
      this.renders.push({ id: queued.render, project_id: this.project.id, version: this.project.version,
        state: "queued", progress_pct: 0, output_blake3: null, error: null });
      this.showRenders();
      this.poll(queued.render, true);
    } catch (exc) {
      this.error(exc.message);
    }
  }

  async poll(id, show = false) {
    for (;;) {
      let row;
      try {
        row = await this.call("GET", `/renders/${id}`);
      } catch (exc) {
        this.error(exc.message);
        return;
      }
      const at = this.renders.findIndex((r) => r.id === id);
      if (at >= 0) this.renders[at] = row;
      this.showRenders();
      if ($("render-progress")) {
        $("render-progress").value = row.progress_pct;
        $("render-state").textContent = `${this.s[`redact.state.${row.state}`]} ${row.progress_pct} %`;
        $("render-state").dataset.state = row.state;
      }
      if (row.state === "done") {
        if (show) this.showRender(row);
        return;
      }
      if (row.state === "failed") {
        this.error(`${this.s["redact.failed"]} ${row.error ?? ""}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  showRenders() {
    const ul = $("renders");
    ul.replaceChildren();
    for (const r of this.renders) {
      const li = el("li", fill(this.s["redact.render_of"], { version: r.version, project: r.project_id }) + " · "
        + `${this.s[`redact.state.${r.state}`]} ${r.progress_pct} %`, { "data-render": r.id, "data-state": r.state });
      if (r.state === "done" && r.output_blake3) {
        const compare = el("button", this.s["redact.compare_render"], { type: "button", class: "secondary compare" });
        compare.addEventListener("click", () => this.showRender(r));
        li.append(" ", compare);
      }
      ul.append(li);
    }
  }

  /** The render beside the source, following it (play, pause, seek, frame steps). */
  showRender(row) {
    this.renderShown = row;
    const url = `/cases/${encodeURIComponent(this.caseId)}/objects/${row.output_blake3}?`
      + new URLSearchParams({ purpose: this.purpose });
    $("rendered-view").hidden = false;
    $("rendered-hash").textContent = `BLAKE3 ${row.output_blake3.slice(0, 16)}…`;
    this.rendered.addEventListener("loadeddata", () => {
      this.rendered.currentTime = this.video.currentTime;
      this.rendered.closest("figure").dataset.ready = "1";
    }, { once: true });
    this.rendered.src = url;
  }

  // -- wiring ----------------------------------------------------------------------------------------------

  bind() {
    const on = (id, event, handler) => $(id)?.addEventListener(event, handler);
    on("play", "click", () => this.togglePlay());
    on("step-back", "click", () => this.step(-1));
    on("step-forward", "click", () => this.step(1));
    on("add-box", "click", () => this.addBox());
    on("set-keyframe", "click", () => this.setKeyframe());
    on("delete-keyframe", "click", () => this.deleteKeyframe());
    on("delete-track", "click", () => this.deleteTrack());
    for (const id of ["shape", "mode", "label"]) on(id, "change", () => this.restyle());
    on("audio-start", "click", () => this.audioMark(false));
    on("audio-end", "click", () => this.audioMark(true));
    on("save", "click", () => this.save());
    on("suggest", "click", () => this.suggest());
    on("render", "click", () => this.render());
    on("fps", "change", () => { $("fps").dataset.typed = "1"; this.showTime(); this.draw(); });

    const v = this.video;
    v.addEventListener("play", () => {
      if (this.following && this.rendered.paused) this.rendered.play();
      if (!$("fps").dataset.measured) this.measureFps();
      this.showTime();
      this.tick();
    });
    v.addEventListener("pause", () => {
      if (this.following) {
        this.rendered.pause();
        this.rendered.currentTime = v.currentTime;
      }
      this.showTime();
      this.draw();
    });
    for (const event of ["seeked", "timeupdate", "loadeddata"]) {
      v.addEventListener(event, () => { this.showTime(); this.syncRendered(); this.draw(); });
    }
    for (const event of ["seeked", "timeupdate", "loadeddata"]) {
      this.rendered.addEventListener(event, () => this.showRenderedFrame());
    }

    const c = this.canvas;
    c.addEventListener("pointerdown", (e) => this.pointerDown(e));
    c.addEventListener("pointermove", (e) => this.pointerMove(e));
    c.addEventListener("pointerup", () => this.pointerUp());
    c.addEventListener("pointercancel", () => { this.drag = null; this.draw(); });
    c.addEventListener("keydown", (e) => { if (this.nudge(e)) e.preventDefault(); });
    document.addEventListener("keydown", (e) => this.key(e));
    new ResizeObserver(() => this.draw()).observe(c);
  }

  key(event) {
    if (event.defaultPrevented) return;
    if ((event.ctrlKey || event.metaKey) && event.key === "s" && this.canEdit) {
      event.preventDefault();
      this.save();
      return;
    }
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest("input, select, textarea, button, a")) return;
    const actions = {
      " ": () => this.togglePlay(),
      ArrowLeft: () => this.step(-1), ",": () => this.step(-1),
      ArrowRight: () => this.step(1), ".": () => this.step(1),
    };
    if (this.canEdit) {
      Object.assign(actions, {
        n: () => this.addBox(), k: () => this.setKeyframe(), Delete: () => this.deleteTrack(),
        a: () => this.audioMark(false), e: () => this.audioMark(true),
      });
    }
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  }

  /** The frame rate, measured while the source plays: the median gap between the presentation times
   *  of consecutive frames (requestVideoFrameCallback).  A rate typed into the field is kept. */
  measureFps() {
    if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype) || $("fps").dataset.typed) return;
    if (this.measuring) return;
    this.measuring = true;
    const gaps = [];
    let last = null;
    const seen = (now, meta) => {
      if (last && meta.presentedFrames === last.frames + 1 && meta.mediaTime > last.time) {
        gaps.push(meta.mediaTime - last.time);
      }
      last = { frames: meta.presentedFrames, time: meta.mediaTime };
      if (gaps.length >= FPS_SAMPLES) {
        gaps.sort((a, b) => a - b);
        const fps = Math.round(1000 / gaps[gaps.length >> 1]) / 1000;
        if (fps > 0 && fps <= 240 && !$("fps").dataset.typed) {
          $("fps").value = String(fps);
          $("fps").dataset.measured = "1";
          this.showTime();
          this.draw();
        }
      } else if (!this.video.paused) {
        this.video.requestVideoFrameCallback(seen);
        return;
      }
      this.measuring = false;
    };
    this.video.requestVideoFrameCallback(seen);
  }

  tick() {
    this.draw();
    this.showTime();
    this.syncRendered();
    if (!this.video.paused && !this.video.ended) requestAnimationFrame(() => this.tick());
  }

  async start() {
    this.root.dataset.playLabel = $("play").textContent;
    this.root.dataset.pauseLabel = $("play").dataset.pause ?? "❚❚";
    this.bind();
    try {
      await this.load();
    } catch (exc) {
      this.error(exc.message);
    }
    this.showLists();
    const ready = () => { this.draw(); this.showTime(); this.root.dataset.ready = "1"; };
    if (this.video.readyState >= 2) ready();
    else this.video.addEventListener("loadeddata", ready, { once: true });
  }
}

const root = document.getElementById("redact");
if (root) {
  const editor = new Editor(root);
  window.custodyRedactEditor = editor; // for the browser tests and the console
  editor.start();
}
