// gait-emotion page: upload, queue, progress, result. No framework, no CDN.
"use strict";

const EMOTION_COLOURS = {happy: "#ffc828", sad: "#1e78dc", angry: "#e62828", neutral: "#aaaaaa"};
const $ = (id) => document.getElementById(id);
const state = {maxUpload: 0, jobs: JSON.parse(localStorage.getItem("gait-emotion-jobs") || "[]"),
               selected: null, views: {}, timer: null};

function save() { localStorage.setItem("gait-emotion-jobs", JSON.stringify(state.jobs)); }
function mb(bytes) { return (bytes / 1048576).toFixed(bytes < 10485760 ? 1 : 0) + " MB"; }
function el(tag, attrs = {}, text = "") {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}
function svg(tag, attrs = {}) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function badge(v) {
  if (!v) return "…";
  if (v.state === "queued") return v.queue_position > 1 ? `queued #${v.queue_position}` : "queued";
  if (v.state === "analysing" || v.state === "rendering")
    return v.total ? `${v.state} ${Math.round(100 * v.done / v.total)} %` : v.state;
  if (v.state === "done") return (v.result && (v.result.clip.uncertain ? "uncertain" : v.result.clip.labels.join(", "))) || "done";
  return v.state;
}

function renderQueue() {
  const ul = $("jobs");
  ul.replaceChildren();
  for (const j of state.jobs.slice().reverse()) {
    const v = state.views[j.id];
    const li = el("li", {"data-id": j.id});
    if (j.id === state.selected) li.classList.add("selected");
    const name = v ? v.name : j.name;
    li.append(el("span", {class: "name", title: name}, name));
    li.append(el("span", {class: "badge " + (v ? v.state : "")}, badge(v)));
    li.onclick = () => select(j.id);
    ul.append(li);
  }
}

function showError(box, msg) { box.textContent = msg; box.hidden = !msg; }

function upload(file) {
  showError($("upload-error"), "");
  if (state.maxUpload && file.size > state.maxUpload) {
    showError($("upload-error"), `${file.name}: larger than the upload limit of ${mb(state.maxUpload)}`);
    return;
  }
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/api/jobs");
  xhr.setRequestHeader("X-Filename", encodeURIComponent(file.name));
  const label = $("limit");
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) label.textContent = `uploading ${Math.round(100 * e.loaded / e.total)} %`; };
  xhr.onloadend = () => {
    label.textContent = `up to ${mb(state.maxUpload)}`;
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (e) { body = {error: `upload failed (${xhr.status || "no answer"})`}; }
    if (xhr.status !== 200) { showError($("upload-error"), body.error || body.detail || `upload failed (${xhr.status})`); return; }
    if (!state.jobs.some((j) => j.id === body.id)) state.jobs.push({id: body.id, name: file.name});
    save();
    state.views[body.id] = body;
    select(body.id);
  };
  xhr.send(file);
}

function select(id) {
  state.selected = id;
  history.replaceState(null, "", "#job=" + id);
  $("job").hidden = false;
  $("result").hidden = true;
  $("result").dataset.shown = "";
  poll();
}

async function fetchView(id) {
  const r = await fetch(`/api/jobs/${id}`);
  if (r.status === 404) return null;
  return r.json();
}

async function poll() {
  clearTimeout(state.timer);
  let busy = false;
  for (const j of state.jobs) {
    const v = state.views[j.id];
    if (j.id === state.selected || !v || (v.state !== "done" && v.state !== "failed")) {
      const nv = await fetchView(j.id);
      if (nv === null) { state.jobs = state.jobs.filter((x) => x.id !== j.id); save(); continue; }
      state.views[j.id] = nv;
    }
    const v2 = state.views[j.id];
    if (v2 && v2.state !== "done" && v2.state !== "failed") busy = true;
  }
  renderQueue();
  if (state.selected) showJob(state.views[state.selected]);
  state.timer = setTimeout(poll, busy ? 500 : 3000);
}

function showJob(v) {
  if (!v) { $("job").hidden = true; return; }
  $("job-name").textContent = v.name;
  const running = v.state === "queued" || v.state === "analysing" || v.state === "rendering";
  $("progress-box").hidden = !running;
  if (running) {
    const what = v.state === "queued" ? (v.queue_position > 1 ? `waiting: ${v.queue_position - 1} job(s) before this one` : "waiting")
      : v.state === "analysing" ? `analysing: ${v.done} / ${v.total || "?"} frames`
      : `rendering the overlay: ${v.done} / ${v.total} frames`;
    $("progress-label").textContent = what;
    $("progress").max = Math.max(1, v.total);
    $("progress").value = v.done;
  }
  showError($("job-error"), v.state === "failed" ? v.message : "");
  if (v.state === "done" && $("result").dataset.shown !== v.id) showResult(v);
}

function showResult(v) {
  const res = v.result, clip = res.clip;
  $("result").dataset.shown = v.id;
  $("result").hidden = false;
  const probs = res.emotions.map((e) => clip.probs[e]);
  const top = res.emotions[probs.indexOf(Math.max(...probs))];
  const answer = $("answer");
  answer.replaceChildren();
  answer.append(el("span", {}, "Perceived: "));
  answer.append(el("span", {class: "label"}, clip.uncertain ? `uncertain (leans ${clip.argmax})` :
    clip.labels.length ? clip.labels.join(", ") : "no emotion above chance"));
  if (clip.uncertain) answer.append(el("span", {class: "conf"}, `  ${clip.because.join("; ")}.`));
  answer.append(el("span", {class: "conf"}, `  confidence ${clip.probs[top].toFixed(2)} (` +
    res.emotions.map((e) => `${e} ${clip.probs[e].toFixed(2)}`).join(", ") + ")"));
  const video = $("overlay");
  if (v.downloads["overlay.mp4"] && video.getAttribute("src") !== v.downloads["overlay.mp4"]) video.src = v.downloads["overlay.mp4"];
  drawPlot(res);
  drawTable(res);
  const dl = $("downloads");
  dl.replaceChildren();
  const names = {"result.json": "result (JSON)", "analysis.npz": "analysis (.npz, for render --analysis)", "overlay.mp4": "overlay video (MP4, H.264)"};
  for (const [k, url] of Object.entries(v.downloads)) {
    const li = el("li");
    li.append(el("a", {href: url, download: ""}, names[k] || k));
    dl.append(li);
  }
}

function drawPlot(res) {
  const plot = $("plot"), W = 640, H = 200, L = 36, R = 8, T = 8, B = 24;
  plot.replaceChildren();
  const dur = Math.max(res.frames / res.fps, 1e-3);
  const x = (t) => L + (W - L - R) * t / dur, y = (p) => T + (H - T - B) * (1 - p);
  for (const p of [0, 0.25, 0.5, 0.75, 1]) {
    plot.append(svg("line", {x1: L, x2: W - R, y1: y(p), y2: y(p), stroke: p === 0.25 ? "#bbb" : "#e5e5ea",
                             "stroke-dasharray": p === 0.25 ? "4 3" : ""}));
    const t = svg("text", {x: L - 6, y: y(p) + 4, "text-anchor": "end", "font-size": 11, fill: "#666"});
    t.textContent = p.toFixed(2);
    plot.append(t);
  }
  const step = dur > 20 ? 5 : dur > 8 ? 2 : 1;
  for (let s = 0; s <= dur; s += step) {
    const t = svg("text", {x: x(s), y: H - 6, "text-anchor": "middle", "font-size": 11, fill: "#666"});
    t.textContent = s + " s";
    plot.append(t);
  }
  const wins = res.windows.filter((w) => w.probs && w.probs.length);
  res.emotions.forEach((e, k) => {
    const pts = wins.map((w) => `${x((w.start_s + w.end_s) / 2).toFixed(1)},${y(w.probs[k]).toFixed(1)}`);
    if (pts.length === 1) pts.push(pts[0]);
    plot.append(svg("polyline", {points: pts.join(" "), fill: "none", stroke: EMOTION_COLOURS[e] || "#333",
                                 "stroke-width": 2.5, "data-emotion": e}));
  });
  const cursor = svg("line", {id: "cursor", x1: L, x2: L, y1: T, y2: H - B, stroke: "#333", "stroke-width": 1});
  plot.append(cursor);
  $("overlay").ontimeupdate = () => {
    const cx = x(Math.min($("overlay").currentTime, dur));
    cursor.setAttribute("x1", cx); cursor.setAttribute("x2", cx);
  };
  const legend = $("legend");
  legend.replaceChildren();
  for (const e of res.emotions) {
    const s = el("span");
    const i = el("i");
    i.style.background = EMOTION_COLOURS[e];
    s.append(i, document.createTextNode(e));
    legend.append(s);
  }
}

function drawTable(res) {
  const head = $("windows").tHead, body = $("windows").tBodies[0];
  head.replaceChildren();
  body.replaceChildren();
  const hr = el("tr");
  for (const h of ["window", ...res.emotions, "labels"]) hr.append(el("th", {}, h));
  head.append(hr);
  for (const w of res.windows) {
    const tr = el("tr");
    tr.append(el("td", {}, `${w.start_s.toFixed(2)}–${w.end_s.toFixed(2)} s`));
    if (w.probs && w.probs.length) {
      w.probs.forEach((p) => tr.append(el("td", {}, p.toFixed(3))));
      tr.append(el("td", {class: "labels"}, res.emotions.filter((e, k) => w.probs[k] > 1 / res.emotions.length).join(", ")));
    } else {
      tr.append(el("td", {class: "skipped", colspan: res.emotions.length + 1}, "skipped: " + w.quality.reason));
    }
    body.append(tr);
  }
}

async function init() {
  const cfg = await (await fetch("/api/config")).json();
  state.maxUpload = cfg.max_upload_bytes;
  $("limit").textContent = `up to ${mb(state.maxUpload)}`;
  const drop = $("drop");
  drop.ondragover = (e) => { e.preventDefault(); drop.classList.add("over"); };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]); };
  $("file").onchange = () => { if ($("file").files.length) upload($("file").files[0]); $("file").value = ""; };
  const m = location.hash.match(/job=([0-9a-f]{64})/);
  if (m && !state.jobs.some((j) => j.id === m[1])) state.jobs.push({id: m[1], name: "video"});
  const pick = m ? m[1] : (state.jobs.length ? state.jobs[state.jobs.length - 1].id : null);
  if (pick) select(pick); else poll();
}

init();
