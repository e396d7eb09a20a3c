// Companion phone app: the phone's camera and microphone over WebRTC to the
// gateway, answers as they stream, history, memory, privacy and glasses.
// Everything a person or the assistant wrote is shown with textContent only:
// hostile text (a sign reading "<script>") stays text.
import { decode, encode } from "/app/msgpack.js";

const $ = (selector) => document.querySelector(selector);
const DEVICE_KEY = "companion.device_token";
const SETTINGS_KEY = "companion.settings";
const PROTOCOL_VERSION = 1;

const state = {
  deviceToken: localStorage.getItem(DEVICE_KEY) || "",
  sessionToken: "",
  user: "",
  settings: Object.assign(
    { privacy: "standard", mode: "fast", retention: "0", listen: "hands-free", muted: false },
    JSON.parse(localStorage.getItem(SETTINGS_KEY) || "{}"),
  ),
  stream: null,
  pc: null,
  channel: null,
  sessionId: null,
  lastSeq: 0, // highest seq received from the gateway
  upSeq: 0, // our own numbering
  unacked: [], // [seq, bytes] sent but not yet acked
  answers: new Map(), // turn_id -> text so far
  answerTurn: -1,
  paused: false,
  wantLive: false,
  retryMs: 500,
  retryTimer: null,
  lastLatency: "",
  answerTrack: null, // the gateway's audio track: spoken answers, silence between them
};
// For tests and the curious: the app's state and a way to cut the connection.
window.companion = { state, dropConnection: () => dropConnection() };

function setStatus(kind, text) {
  const el = $('[data-testid="status"]');
  el.dataset.state = kind;
  el.textContent = text;
}

function saveSettings() {
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(state.settings));
}

// ---- credentials ----------------------------------------------------------

async function signIn() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.has("pair") || hash.has("token")) history.replaceState(null, "", location.pathname);
  if ((hash.has("pair") || hash.has("token")) && !(await linkMaySwitchAccount(hash))) {
    return refreshSessionToken();  // the wearer kept the account this phone already has
  }
  if (hash.has("pair")) {
    const reply = await fetch("/v1/pair", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code: hash.get("pair"), device: navigator.userAgent.slice(0, 80) }),
    });
    if (!reply.ok) { setStatus("signed-out", "This pairing link was already used or has expired. Run `companion token` for a new one."); return false; }
    const body = await reply.json();
    state.deviceToken = body.device_token;
    state.sessionToken = body.session_token;
    localStorage.setItem(DEVICE_KEY, state.deviceToken);
  } else if (hash.has("token")) {
    state.deviceToken = hash.get("token");
    localStorage.setItem(DEVICE_KEY, state.deviceToken);
  }
  return refreshSessionToken();
}

// A link that would sign this phone in as someone else asks first: a link sent by
// another person must not quietly move the wearer's app into their account.
async function linkMaySwitchAccount(hash) {
  if (!state.deviceToken) return true;
  const current = await userOf(state.deviceToken);
  if (current === null) return true;  // the old sign-in no longer works: nothing to keep
  if (hash.has("token")) {
    const next = await userOf(hash.get("token"));
    if (next === null || next === current) return true;
    return confirm(`This link signs this phone in as ${next} instead of ${current}. Switch accounts?`);
  }
  return confirm(`This pairing link signs this phone in to another account instead of ${current}. Continue?`);
}

async function userOf(deviceToken) {
  try {
    const reply = await fetch("/v1/token", { method: "POST", headers: { Authorization: `Bearer ${deviceToken}` } });
    return reply.ok ? (await reply.json()).user : null;
  } catch { return null; }
}

async function refreshSessionToken() {
  let reply;
  try {
    reply = await fetch("/v1/token", {
      method: "POST",
      headers: state.deviceToken ? { Authorization: `Bearer ${state.deviceToken}` } : {},
    });
  } catch {
    setStatus("unreachable", "Gateway unreachable. Is `companion serve` running? Retrying…");
    return false;
  }
  if (reply.status === 401) {
    state.sessionToken = "";
    setStatus("signed-out", "Not signed in: open the pairing link from `companion serve` or `companion token`.");
    return false;
  }
  if (!reply.ok) { setStatus("error", `Sign-in failed (${reply.status}).`); return false; }
  const body = await reply.json();
  state.sessionToken = body.session_token;
  state.user = body.user;
  $('[data-testid="user"]').textContent = body.user;
  return true;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}, retried = false) {
  const headers = Object.assign({}, options.headers || {}, { Authorization: `Bearer ${state.sessionToken}` });
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options = Object.assign({}, options, { body: JSON.stringify(options.json) });
  }
  let reply;
  try {
    reply = await fetch(path, Object.assign({}, options, { headers }));
  } catch {
    setStatus("unreachable", "Gateway unreachable. Check the connection; retrying…");
    throw new ApiError(0, "gateway unreachable");
  }
  if (reply.status === 401 && !retried && (await refreshSessionToken())) {
    return api(path, options, true);
  }
  if (reply.status === 429) {
    const body = await reply.json().catch(() => ({}));
    setStatus("rate-limited", body.error || "Too many requests; slow down.");
    throw new ApiError(429, body.error || "rate limited");
  }
  if (!reply.ok) {
    const body = await reply.json().catch(() => ({}));
    throw new ApiError(reply.status, body.error || reply.statusText);
  }
  return reply;
}

// ---- live: camera, microphone, WebRTC ------------------------------------

async function startLive() {
  unlockAnswerAudio();  // this tap is the gesture that lets answers play aloud
  if (!state.sessionToken && !(await refreshSessionToken())) return;
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      // Speech recognition hears best what the microphone heard: no browser clean-up.
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      video: { facingMode: "environment", width: { ideal: 640 }, height: { ideal: 480 } },
    });
  } catch (error) {
    const denied = error && (error.name === "NotAllowedError" || error.name === "SecurityError");
    setStatus("denied", denied
      ? "Camera and microphone permission denied. Allow them in the browser's site settings, then press Start."
      : `No camera or microphone available (${error && error.name}).`);
    return;
  }
  $("#preview").srcObject = state.stream;
  state.wantLive = true;
  applyCaptureSettings();
  $("#start").hidden = true;
  $("#stop").hidden = false;
  await connect();
}

function stopLive() {
  state.wantLive = false;
  clearTimeout(state.retryTimer);
  if (state.pc) state.pc.close();
  state.pc = null;
  state.channel = null;
  state.sessionId = null;
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.stream = null;
  $("#preview").srcObject = null;
  $("#start").hidden = false;
  $("#stop").hidden = true;
  applyCaptureSettings();
  setStatus("idle", "Stopped.");
}

async function connect() {
  clearTimeout(state.retryTimer);
  if (!state.wantLive) return;
  const resuming = state.sessionId !== null;
  setStatus(resuming ? "reconnecting" : "connecting", resuming ? "Reconnecting…" : "Connecting…");
  const pc = new RTCPeerConnection({ iceServers: [] });
  if (state.pc) state.pc.close();
  state.pc = pc;
  for (const track of state.stream.getTracks()) pc.addTrack(track, state.stream).kindWanted = track.kind;
  // The gateway answers on the microphone's own audio line: spoken answers arrive as a track.
  pc.ontrack = (event) => { if (event.track.kind === "audio") playAnswers(event.track); };
  applyCaptureSettings();  // a local-only phone offers its tracks but sends none of them
  const channel = pc.createDataChannel("context", { ordered: true });
  channel.binaryType = "arraybuffer";
  channel.onopen = () => onChannelOpen(channel);
  channel.onmessage = (event) => onMessage(event.data);
  channel.onclose = () => lost(pc);
  pc.onconnectionstatechange = () => {
    if (["failed", "disconnected", "closed"].includes(pc.connectionState)) lost(pc);
  };
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    const reply = await api("/v1/app/sessions", {
      method: "POST",
      json: {
        sdp: pc.localDescription.sdp,
        type: "offer",
        resume: state.sessionId,
        last_seq: state.sessionId ? state.lastSeq : 0,
      },
    });
    const answer = await reply.json();
    if (state.pc !== pc) return;
    if (answer.session_id !== state.sessionId) freshSession(answer.session_id);
    await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
  } catch (error) {
    if (state.pc !== pc) return;
    if (error instanceof ApiError && error.status === 404 && state.sessionId) {
      state.sessionId = null; // the gateway forgot us: start a new session
    }
    if (error instanceof ApiError && error.status === 401) {
      setStatus("signed-out", "Signed out: this device was revoked or its pairing expired. Pair again.");
      return;
    }
    if (!(error instanceof ApiError && [0, 429].includes(error.status))) {
      setStatus("reconnecting", `Could not connect (${error.message}); retrying…`);
    }
    scheduleReconnect();
  }
}

function freshSession(sessionId) {
  state.sessionId = sessionId;
  state.lastSeq = 0;
  state.upSeq = 0;
  state.unacked = [];
}

function iceGathered(pc) {
  // The gateway does not trickle ICE: send the offer with every candidate in it.
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000);
  });
}

function onChannelOpen(channel) {
  if (state.channel === channel) return;
  state.channel = channel;
  state.retryMs = 500;
  setStatus(state.paused ? "paused" : "live", state.paused ? "Paused: the camera and microphone capture nothing." : "Live: listening.");
  if (state.upSeq === 0) {
    send("hello", { user: state.user || "me", device: "phone", privacy: state.settings.privacy, mode: state.settings.mode });
    sendSettings();
  } else {
    for (const [, bytes] of state.unacked) channel.send(bytes);
  }
}

function lost(pc) {
  if (state.pc !== pc || !state.wantLive) return;
  state.pc = null;
  state.channel = null;
  pc.close();
  setStatus("reconnecting", "Connection lost; reconnecting…");
  scheduleReconnect();
}

function scheduleReconnect() {
  clearTimeout(state.retryTimer);
  state.retryTimer = setTimeout(connect, state.retryMs);
  state.retryMs = Math.min(state.retryMs * 2, 5000);
}

function dropConnection() {
  // What a tunnel or a lift does to a phone: the connection just goes.
  if (state.pc) lost(state.pc);
}

function send(type, fields) {
  if (!state.sessionId) return false;
  const seq = ++state.upSeq;
  const bytes = encode(Object.assign(
    { v: PROTOCOL_VERSION, type, session_id: state.sessionId, seq, sent_at: performance.now() / 1000 },
    fields,
  ));
  state.unacked.push([seq, bytes]);
  if (state.channel && state.channel.readyState === "open") state.channel.send(bytes);
  return true;
}

function sendAck(seq) {
  if (state.channel && state.channel.readyState === "open") {
    state.channel.send(encode({ v: PROTOCOL_VERSION, type: "ack", session_id: state.sessionId, seq: 0, sent_at: performance.now() / 1000, ack_seq: seq }));
  }
}

function sendSettings() {
  send("control", { action: "mode", value: state.settings.mode });
  send("control", { action: "speak", value: state.settings.muted ? "off" : "on" });
  send("control", { action: "privacy", value: state.settings.privacy });
  send("control", { action: "retention", value: String(state.settings.retention) });
  if (state.paused) send("control", { action: "pause", value: "" });
  sendListening();
}

function onMessage(data) {
  let message;
  try { message = decode(data); } catch (error) { console.warn("bad message", error); return; }
  if (message.type === "ack") {
    state.unacked = state.unacked.filter(([seq]) => seq > message.ack_seq);
    return;
  }
  if (message.seq <= state.lastSeq) { sendAck(state.lastSeq); return; } // a replay we already have
  state.lastSeq = message.seq;
  sendAck(message.seq);
  handle(message);
}

function handle(message) {
  switch (message.type) {
    case "transcript":
      $('[data-testid="transcript"]').textContent = message.text || "(no speech heard)";
      break;
    case "observation": {
      const lines = (message.ocr || []).map((l) => l.text).filter(Boolean);
      const labels = (message.labels || []).slice(0, 2).map((l) => l.name);
      $('[data-testid="seen"]').textContent =
        (lines.length ? `Read: ${lines.join(" · ")}` : "") + (labels.length ? `  Looks like: ${labels.join(", ")}` : "");
      break;
    }
    case "answer_delta": {
      if (message.turn_id !== state.answerTurn) {
        // A new answer is streaming: the done mark belonged to the previous one.
        state.answerTurn = message.turn_id; state.answers.set(message.turn_id, "");
        delete $('[data-testid="answer"]').dataset.done;
      }
      const text = (state.answers.get(message.turn_id) || "") + message.text;
      state.answers.set(message.turn_id, text);
      $('[data-testid="answer"]').textContent = text;
      break;
    }
    case "answer_done":
      state.answerTurn = message.turn_id;
      state.answers.set(message.turn_id, message.text);
      $('[data-testid="answer"]').textContent = message.text;
      $('[data-testid="answer"]').dataset.done = String(message.turn_id);
      showLatency(message);
      if (state.channel && !state.paused) setStatus("live", "Live: listening.");
      break;
    case "error":
      if (message.code === "rate_limited") setStatus("rate-limited", message.message);
      else setStatus("error", `${message.code}: ${message.message}`);
      break;
    case "device_status":
      showGlasses(Object.assign({}, message, { last_seen: Date.now() / 1000 }));
      break;
    case "notification":
      setStatus("live", `Reminder: ${message.text}`);
      break;
    case "caption":
      showCaption(message);
      break;
    case "control":
      heardSwitch(message);
      break;
    default:
      break;
  }
}

function showLatency(done) {
  const stages = (done.stages || []).slice().sort((a, b) => a.at - b.at);
  if (stages.length < 2) { state.lastLatency = "no timing for this answer"; }
  else {
    const total = (stages[stages.length - 1].at - stages[0].at) * 1000;
    const steps = [];
    for (let i = 1; i < stages.length; i++) {
      steps.push(`${stages[i - 1].name} → ${stages[i].name}: ${((stages[i].at - stages[i - 1].at) * 1000).toFixed(0)} ms`);
    }
    state.lastLatency = `total ${total.toFixed(0)} ms (${done.mode})\n${steps.join("\n")}`;
  }
  $('[data-testid="latency"]').textContent = state.lastLatency;
}

// ---- spoken answers -------------------------------------------------------

// Browsers play sound only after the user touched the page: the Start tap calls this,
// so an answer that arrives later is heard without another tap.
function unlockAnswerAudio() {
  const audio = $("#answer-audio");
  audio.muted = state.settings.muted;
  audio.play().catch(() => {});
}

function playAnswers(track) {
  state.answerTrack = track;
  const audio = $("#answer-audio");
  audio.srcObject = new MediaStream([track]);
  audio.muted = state.settings.muted;
  audio.play().catch(() => setStatus("live", "Tap Start again to hear spoken answers."));
}

// Muted: nothing plays here, and the server stops speaking answers (no voice work wasted).
function setMuted(muted) {
  state.settings.muted = muted;
  saveSettings();
  $("#answer-audio").muted = muted;
  send("control", { action: "speak", value: muted ? "off" : "on" });
}

// ---- capture settings -----------------------------------------------------

function applyCaptureSettings() {
  const live = !!state.stream && !state.paused;
  const camera = live && state.settings.privacy === "standard";
  // Local-only: nothing leaves this phone, not even silence: the senders carry no track.
  const mic = live && state.settings.privacy !== "local-only";
  if (state.stream) {
    for (const track of state.stream.getVideoTracks()) track.enabled = camera;
    const holding = $("#talk").classList.contains("held");
    for (const track of state.stream.getAudioTracks()) {
      track.enabled = mic && (state.settings.listen === "hands-free" || holding);
    }
  }
  sendOnly({ audio: mic, video: camera });
  $('[data-testid="live-indicator"]').hidden = !live;
  $('[data-testid="live-indicator"]').textContent = camera ? "● Camera & mic live" : "● Mic live";
  $("#preview-off").hidden = camera;
  $("#talk").hidden = state.settings.listen !== "hold";
  $("#pause").textContent = state.paused ? "Resume capture" : "Pause capture";
}

// A track that may not leave is taken off its sender (replaceTrack(null)), so no RTP
// at all reaches the server; a disabled track would still send silence and black frames.
function sendOnly(allowed) {
  if (!state.pc || !state.stream) return;
  for (const sender of state.pc.getSenders()) {
    const kind = sender.track ? sender.track.kind : sender.kindWanted;
    if (!kind) continue;
    const track = state.stream.getTracks().find((t) => t.kind === kind);
    sender.kindWanted = kind;
    sender.replaceTrack(allowed[kind] ? track : null).catch(() => {});
  }
}

function setupLive() {
  $("#start").addEventListener("click", startLive);
  $("#stop").addEventListener("click", stopLive);
  for (const radio of document.querySelectorAll('input[name="listen"]')) {
    radio.checked = radio.value === state.settings.listen;
    radio.addEventListener("change", () => { state.settings.listen = radio.value; saveSettings(); applyCaptureSettings(); });
  }
  const talk = $("#talk");
  const hold = (held) => {
    talk.classList.toggle("held", held);
    talk.textContent = held ? "Listening… release to finish" : "Hold to talk";
    applyCaptureSettings();
  };
  talk.addEventListener("pointerdown", (e) => { talk.setPointerCapture(e.pointerId); hold(true); });
  talk.addEventListener("pointerup", () => hold(false));
  talk.addEventListener("pointercancel", () => hold(false));
  const mode = $("#answer-mode");
  mode.value = state.settings.mode;
  mode.addEventListener("change", () => {
    state.settings.mode = mode.value; saveSettings();
    send("control", { action: "mode", value: mode.value });
  });
  $("#ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("#ask-text").value.trim();
    if (!text) return;
    if (!send("query", { turn_id: 0, text, mode: state.settings.mode, visual: false })) {
      setStatus("error", "Start the camera and microphone first: questions go through the live session.");
      return;
    }
    $('[data-testid="transcript"]').textContent = text;
    $('[data-testid="answer"]').textContent = "…";
    $("#ask-text").value = "";
  });
  $("#show-latency").addEventListener("change", (e) => { $('[data-testid="latency"]').hidden = !e.target.checked; });
  const mute = $("#mute");
  mute.checked = state.settings.muted;
  mute.addEventListener("change", () => setMuted(mute.checked));
}

function setupPrivacy() {
  for (const radio of document.querySelectorAll('input[name="privacy"]')) {
    radio.checked = radio.value === state.settings.privacy;
    radio.addEventListener("change", () => {
      state.settings.privacy = radio.value; saveSettings(); applyCaptureSettings();
      send("control", { action: "privacy", value: radio.value });
    });
  }
  // Face blur is not a setting (see gateway/app_session.py): the box only shows it is on.
  delete state.settings.faceBlur;
  const retention = $("#retention");
  retention.value = String(state.settings.retention);
  retention.addEventListener("change", () => {
    state.settings.retention = retention.value; saveSettings();
    send("control", { action: "retention", value: retention.value });
  });
  $("#pause").addEventListener("click", () => {
    state.paused = !state.paused;
    applyCaptureSettings();
    send("control", { action: state.paused ? "pause" : "resume", value: "" });
    if (state.channel) {
      setStatus(state.paused ? "paused" : "live", state.paused ? "Paused: the camera and microphone capture nothing." : "Live: listening.");
    }
  });
}

// ---- glasses, history and memory -------------------------------------------

function showGlasses(glasses) {
  if (!glasses) return;
  const problem = glasses.problem ? ` — ${glasses.problem}` : "";
  $("#glasses-connection").textContent =
    `${glasses.device}: ${glasses.connection}${glasses.event ? ` (${glasses.event})` : ""}${problem}`;
  $("#glasses-battery").textContent = glasses.battery_percent >= 0 ? `${glasses.battery_percent}%` : "unknown";
  $("#glasses-seen").textContent = new Date(glasses.last_seen * 1000).toLocaleString();
}

async function loadGlasses() {
  try { showGlasses((await (await api("/v1/glasses")).json()).glasses); } catch { /* status shows why */ }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function loadHistory() {
  const list = $("#history-list");
  let turns;
  try { turns = (await (await api("/v1/history")).json()).turns; } catch { return; }
  list.replaceChildren();
  for (const turn of turns) {
    const item = el("li");
    item.dataset.testid = "history-item";
    item.append(el("div", "meta", `${new Date(turn.time * 1000).toLocaleString()} · ${turn.mode || ""}${turn.latency_ms ? ` · ${Math.round(turn.latency_ms)} ms` : ""}`));
    item.append(el("div", "", `Q: ${turn.question || "(no speech)"}`));
    item.append(el("div", "", `A: ${turn.answer}`));
    if (turn.keyframe) {
      const img = el("img");
      img.alt = "what the camera saw (faces blurred)";
      api(`/v1/history/${turn.id}/keyframe.jpg`).then((r) => r.blob()).then((b) => { img.src = URL.createObjectURL(b); }).catch(() => {});
      item.append(img);
    }
    list.append(item);
  }
  $("#history-empty").hidden = turns.length > 0;
}

async function loadMemories() {
  const query = $("#memory-query").value.trim();
  let memories;
  try {
    memories = (await (await api(`/v1/memories?q=${encodeURIComponent(query)}`)).json()).memories;
  } catch (error) {
    if (error.status === 503) $("#memory-empty").textContent = "Memory is not enabled on this gateway.";
    return;
  }
  const list = $("#memory-list");
  list.replaceChildren();
  for (const memory of memories) list.append(memoryItem(memory));
  $("#memory-empty").hidden = memories.length > 0;
}

function memoryItem(memory) {
  const item = el("li");
  item.dataset.testid = "memory-item";
  item.dataset.memoryId = memory.id;
  const text = el("div", "memory-text", memory.text);
  text.dataset.testid = "memory-text";
  item.append(text);
  const heard = memory.kind === "observation" ? "seen" : memory.source === "app" ? "typed" : "said";
  item.append(el("div", "meta", `${memory.kind} · ${heard} · from ${memory.source} · ${new Date(memory.time).toLocaleString()}`));
  if (memory.replaced_by) {
    // Kept as history: what the assistant used to believe, and when it learnt otherwise.
    item.classList.add("replaced");
    const when = memory.superseded_at ? ` on ${new Date(memory.superseded_at).toLocaleString()}` : "";
    const note = el("div", "replaced-note", `Replaced${when} by a newer fact`);
    note.dataset.testid = "memory-replaced";
    item.append(note);
  }
  const actions = el("div", "actions");
  const edit = el("button", "", "Edit");
  edit.dataset.testid = "memory-edit";
  const remove = el("button", "", "Delete");
  remove.dataset.testid = "memory-delete";
  actions.append(edit, remove);
  item.append(actions);
  edit.addEventListener("click", () => {
    const input = el("input");
    input.type = "text";
    input.value = memory.text;
    input.dataset.testid = "memory-edit-text";
    const save = el("button", "primary", "Save");
    save.dataset.testid = "memory-save";
    save.addEventListener("click", async () => {
      try {
        await api(`/v1/memories/${encodeURIComponent(memory.id)}`, { method: "PATCH", json: { text: input.value } });
      } catch (error) { setStatus("error", `Could not save: ${error.message}`); return; }
      loadMemories();
    });
    text.replaceChildren(input, save);
  });
  remove.addEventListener("click", async () => {
    try {
      await api(`/v1/memories/${encodeURIComponent(memory.id)}`, { method: "DELETE" });
    } catch (error) { setStatus("error", `Could not delete: ${error.message}`); return; }
    item.remove();
    $("#memory-empty").hidden = $("#memory-list").children.length > 0;
  });
  return item;
}

function setupMemory() {
  $("#memory-search").addEventListener("submit", (e) => { e.preventDefault(); loadMemories(); });
  $("#memory-add").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("#memory-new").value.trim();
    if (!text) return;
    try { await api("/v1/memories", { method: "POST", json: { text } }); }
    catch (error) { setStatus("error", `Could not remember that: ${error.message}`); return; }
    $("#memory-new").value = "";
    loadMemories();
  });
  $("#memory-export").addEventListener("click", async () => {
    const blob = await (await api("/v1/memories/export")).blob();
    const link = el("a");
    link.href = URL.createObjectURL(blob);
    link.download = "companion-memories.json";
    link.click();
  });
  $("#history-refresh").addEventListener("click", loadHistory);
}

// ---- captions and notes ---------------------------------------------------
// Off by default and not remembered between visits: the wearer turns them on for
// a conversation. Notes show an indicator while they are being taken.

const listening = { captions: false, notes: false, translate: "", finals: 0 };
const MAX_CAPTION_LINES = 30;

function sendListening() {
  if (listening.captions) send("control", { action: "captions", value: "on" });
  if (listening.notes) send("control", { action: "notes", value: "on" });
  if (listening.translate) send("control", { action: "translate", value: listening.translate });
}

function showListening() {
  $("#captions-on").checked = listening.captions;
  $("#notes-on").checked = listening.notes;
  $("#translate-to").value = listening.translate;
  $('[data-testid="captions"]').hidden = !listening.captions;
  $('[data-testid="notes-indicator"]').hidden = !listening.notes;
}

function heardSwitch(control) {
  // The wearer said "captions on" / "stop taking notes": the toggles follow.
  if (control.action === "captions" || control.action === "notes") listening[control.action] = control.value === "on";
  else if (control.action === "translate") listening.translate = control.value;
  else return;
  showListening();
}

function captionLine(message) {
  const line = el("li", "caption-line");
  line.dataset.line = String(message.line_id);
  const language = el("span", "caption-language", (message.language || "?").toUpperCase());
  language.dataset.testid = "caption-language";
  language.title = message.translated ? `heard in ${message.language}, shown in English` : `heard in ${message.language}`;
  line.append(language, el("span", "caption-text", message.text));
  return line;
}

function showCaption(message) {
  const finals = $('[data-testid="caption-finals"]');
  const live = $('[data-testid="caption-live"]');
  if (!message.final) {
    live.replaceChildren(captionLine(message));
    live.dataset.line = String(message.line_id);
    return;
  }
  let line = finals.querySelector(`[data-line="${message.line_id}"]`);
  if (!line) {
    line = captionLine(message);
    finals.append(line);
    listening.finals += 1;
    finals.dataset.count = String(listening.finals);
    while (finals.children.length > MAX_CAPTION_LINES) finals.firstElementChild.remove();
  }
  if (message.translation) {
    const translated = el("span", "caption-translation", message.translation);
    translated.dataset.testid = "caption-translation";
    line.append(translated);
  }
  if (live.dataset.line === String(message.line_id)) { live.replaceChildren(); delete live.dataset.line; }
}

function setupListening() {
  const toggle = (action, input) => input.addEventListener("change", () => {
    listening[action] = input.checked;
    showListening();
    send("control", { action, value: input.checked ? "on" : "off" });
  });
  toggle("captions", $("#captions-on"));
  toggle("notes", $("#notes-on"));
  $("#translate-to").addEventListener("change", (event) => {
    listening.translate = event.target.value;
    send("control", { action: "translate", value: listening.translate });
  });
  showListening();
}

// ---- conversations (notes) ------------------------------------------------

async function loadConversations() {
  let conversations;
  try {
    conversations = (await (await api("/v1/conversations")).json()).conversations;
  } catch (error) {
    $("#conversations-empty").textContent = "Conversation notes are not available.";
    $("#conversations-empty").hidden = false;
    return;
  }
  const list = $("#conversation-list");
  list.replaceChildren();
  for (const conversation of conversations) {
    const item = el("li");
    item.dataset.testid = "conversation-item";
    item.dataset.conversationId = conversation.id;
    item.append(el("div", "meta", `${new Date(conversation.started_at).toLocaleString()} · ${conversation.lines} lines`));
    item.append(el("div", "", conversation.summary || "(no summary)"));
    item.addEventListener("click", () => showConversation(conversation.id));
    list.append(item);
  }
  $("#conversations-empty").hidden = conversations.length > 0;
  $("#conversation-detail").hidden = true;
}

async function showConversation(id) {
  const conversation = await (await api(`/v1/conversations/${encodeURIComponent(id)}`)).json();
  const detail = $("#conversation-detail");
  detail.dataset.conversationId = id;
  $("#conversation-title").textContent = new Date(conversation.started_at).toLocaleString();
  $('[data-testid="conversation-summary"]').textContent = conversation.summary || "(no summary)";
  const actions = $('[data-testid="conversation-actions"]');
  actions.replaceChildren();
  for (const item of conversation.action_items) {
    const when = item.when ? ` (${item.when})` : "";
    const action = el("li", "", `${item.who} will ${item.what}${when}`);
    action.dataset.testid = "conversation-action";
    actions.append(action);
  }
  if (!conversation.action_items.length) actions.append(el("li", "empty", "No action items."));
  const transcript = $('[data-testid="conversation-transcript"]');
  transcript.replaceChildren();
  for (const line of conversation.lines) {
    const row = el("li");
    row.append(el("span", "meta", `${line.speaker} ${line.start.toFixed(0)}s `), el("span", "", line.text));
    transcript.append(row);
  }
  detail.hidden = false;
}

function setupConversations() {
  $("#conversation-delete").addEventListener("click", async () => {
    const id = $("#conversation-detail").dataset.conversationId;
    if (!id) return;
    await api(`/v1/conversations/${encodeURIComponent(id)}`, { method: "DELETE" });
    await loadConversations();
  });
}

// ---- navigation -----------------------------------------------------------

function show(page) {
  for (const section of document.querySelectorAll("[data-page]")) section.hidden = section.dataset.page !== page;
  for (const button of document.querySelectorAll("[data-nav]")) {
    if (button.dataset.nav === page) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  if (page === "history") loadHistory();
  if (page === "memory") loadMemories();
  if (page === "conversations") loadConversations();
  if (page === "glasses") loadGlasses();
}

async function main() {
  for (const button of document.querySelectorAll("[data-nav]")) {
    button.addEventListener("click", () => show(button.dataset.nav));
  }
  setupLive();
  setupListening();
  setupConversations();
  setupPrivacy();
  setupMemory();
  applyCaptureSettings();
  window.addEventListener("online", () => { if (state.wantLive && !state.channel) connect(); });
  if (await signIn()) setStatus("idle", "Ready. Press Start to use the camera and microphone.");
  document.body.dataset.ready = "true";
}

main();
