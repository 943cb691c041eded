// The phone simulator page: places calls, presses keys, answers the staff's phones, and
// shows what the dispatcher did. It only talks to /simulator/api (same origin).
"use strict";

const $ = (selector) => document.querySelector(selector);
const KEYS = [..."123456789*0#"];
const KEY_NAMES = { "*": "* (étoile)", "#": "# (dièse)" };
let currentCall = null;
let spokenLines = 0;
let keysExpected = null; // [how many, finish key] at the question being asked
let keyed = ""; // keys pressed but not sent yet, as a phone's keypad holds them
let atEdited = false; // the date field follows the simulated clock until it is edited

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(`/simulator/api/${path}`, options);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    showError(answer.error || `Erreur ${response.status}`);
    throw new Error(answer.error || response.status);
  }
  return answer;
}

function showError(text) {
  const box = $("#error");
  box.textContent = text;
  box.hidden = false;
  setTimeout(() => { box.hidden = true; }, 6000);
}

// Everything put into the page's HTML goes through here: numbers, names and words come from
// the requests the simulator was sent, and the page is on the back office's origin.
function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function speak(lines) {
  if (!$("#voice").checked || !window.speechSynthesis) return;
  for (const line of lines) {
    const said = /^Serveur vocal : « (.*) »$/.exec(line);
    if (!said) continue;
    const utterance = new SpeechSynthesisUtterance(said[1]);
    utterance.lang = "fr-FR";
    window.speechSynthesis.speak(utterance);
  }
}

function renderClock(state) {
  $("#clock").textContent = state.clock;
  const at = $("#at");
  if (!atEdited && document.activeElement !== at) at.value = state.clock_input;
}

function renderCaller(state) {
  if (currentCall === null) { // the page was reloaded during a call: show it again
    const going = state.calls.find((c) => !c.ended);
    if (going) { currentCall = going.id; spokenLines = going.lines.length; }
  }
  const call = state.calls.find((c) => c.id === currentCall);
  $("#current-call").hidden = !call;
  if (!call) return;
  keysExpected = call.keys;
  if (!call.can.press) keyed = "";
  $("#keyed").textContent = keyed;
  $("#call-status").textContent = call.status;
  const box = $("#caller-transcript");
  if (box.textContent !== call.lines.join("\n")) { // new lines: shown, scrolled to
    box.textContent = call.lines.join("\n");
    box.scrollTop = box.scrollHeight;
  }
  speak(call.lines.slice(spokenLines));
  spokenLines = call.lines.length;
  // Only what the call can take now: no keys once it has ended, nor while it rings a phone.
  document.querySelectorAll("#keypad button").forEach((b) => { b.disabled = !call.can.press; });
  $("#say-text").disabled = !call.can.say;
  $("#say button").disabled = !call.can.say;
  $("#silence").disabled = !call.can.silence;
  $("#message").disabled = !call.can.message;
  $("#hangup").disabled = !call.can.hangup;
}

// A phone's buttons: each carries whose phone it is (`target`: a dispatcher's call by its
// sid, or a caller's call being put through, by its id and the number it rings).
function phoneButtons(target, actions) {
  const where = target.sid !== undefined
    ? `data-sid="${escapeHtml(target.sid)}"`
    : `data-call="${escapeHtml(target.call)}" data-number="${escapeHtml(target.to)}"`;
  return actions.map(([action, label, value, name]) =>
    `<button type="button" ${where} data-action="${escapeHtml(action)}" data-value="${escapeHtml(value || "")}"` +
    (name ? ` aria-label="${escapeHtml(name)}"` : "") + `>${escapeHtml(label)}</button>`).join(" ");
}

const RING_BUTTONS = [
  ["answer", "Décrocher"], ["voicemail", "Laisser la messagerie répondre"],
  ["no-answer", "Laisser sonner"], ["busy", "Occupé"]];

function ringingPhone(target, why) {
  return `<div class="phone ringing"><h3>${escapeHtml(target.who)}</h3>
    <p>Sonne : ${escapeHtml(why)}</p>
    <div class="actions">${phoneButtons(target, RING_BUTTONS)}</div></div>`;
}

function answeredPhone(target, why, lines, waiting, ended) {
  const keypad = waiting ? `
    <div class="keypad" role="group" aria-label="${escapeHtml(`Clavier du ${target.who}`)}">${
      phoneButtons(target, KEYS.map((key) => ["press", key, key, KEY_NAMES[key]]))}</div>
    <div class="actions">${phoneButtons(target, [
      ["silence", "Ne rien taper"], ["hangup", "Raccrocher"]])}</div>` : "";
  return `<div class="phone"><h3>${escapeHtml(target.who)}</h3>
    <p>${escapeHtml(why)} — ${ended ? "terminé" : "en ligne"}</p>
    <div class="transcript" role="log" tabindex="0" aria-label="${escapeHtml(`Déroulé : ${target.who}`)}">${
      escapeHtml(lines.join("\n"))}</div>${keypad}</div>`;
}

// What each part of the page shows, redrawn only when it changes: a redraw at every refresh
// would lose a click landing as it happens, the keyboard's focus and where one had scrolled.
const shown = new Map();

function show(selector, html) {
  if (shown.get(selector) === html) return false;
  shown.set(selector, html);
  $(selector).innerHTML = html;
  return true;
}

function renderTexts(state) {
  const html = state.texts.map((t) => `<li class="${t.mine ? "mine" : "received"}">` +
    `<span class="at">${escapeHtml(t.at)}</span> ${t.mine ? "Vous : " : ""}${escapeHtml(t.text)}</li>`,
  ).join("") || "<li>Aucun SMS reçu sur ce numéro.</li>";
  if (show("#texts", html)) $("#texts").scrollTop = $("#texts").scrollHeight;
}

function renderStaff(state) {
  show("#ringing",
    state.transfers_ringing.map((c) => ringingPhone(c, "un appelant en ligne attend d'être mis en relation")).join("") +
    state.ringing.map((c) => ringingPhone(c, "le service d'astreinte rappelle")).join(""));
  show("#phones",
    state.transfers.filter((c) => c.call === currentCall || c.waiting).map((c) =>
      answeredPhone(c, "appelant mis en relation", c.lines, c.waiting, c.ended)).join("") +
    state.outbound.map((c) =>
      answeredPhone(c, "rappel du service d'astreinte", c.lines, c.waiting, c.ended)).join(""));
  show("#messages", state.messages.map((m) =>
    `<li><strong>${escapeHtml(m.who)}</strong> : ${escapeHtml(m.body)}</li>`).join("") || "<li>Aucun.</li>");
  document.querySelectorAll("#behaviours select").forEach((select) => {
    if (document.activeElement !== select) {
      select.value = state.behaviours[select.dataset.number] || "live";
    }
  });
}

function renderDispatcher(state) {
  show("#sheets", state.sheets.map((s) =>
    `<li><a href="/simulator/sheets/${encodeURIComponent(s.name)}.pdf" target="_blank">${escapeHtml(s.title)}</a></li>`,
  ).join("") || "<li>Aucune fiche pour l'instant.</li>");
  show("#jobs", "<tr><th scope=\"col\">Quoi</th><th scope=\"col\">Pour</th>" +
    "<th scope=\"col\">Quand</th><th scope=\"col\">État</th></tr>" +
    state.jobs.map((j) => `<tr><td>${escapeHtml(j.what)}</td><td>${escapeHtml(j.for)}</td>` +
      `<td>${escapeHtml(j.due)}</td><td>${escapeHtml(j.state)}</td></tr>`).join(""));
}

async function refresh() {
  try {
    const state = await api(`state?phone=${encodeURIComponent($("#from").value.trim())}`);
    renderClock(state);
    renderCaller(state);
    renderTexts(state);
    renderStaff(state);
    renderDispatcher(state);
  } catch (error) { /* shown already */ }
}

async function callerDoes(action, value) {
  if (currentCall === null) return;
  try { await api(`calls/${currentCall}/${action}`, { value }); } catch (error) { /* shown */ }
  refresh();
}

function syncClient() {
  const number = $("#from").value.trim();
  const option = [...$("#client").options].find((o) => o.value && o.value === number);
  $("#client").value = option ? option.value : "";
}

$("#client").addEventListener("change", () => {
  if ($("#client").value) $("#from").value = $("#client").value;
});
$("#from").addEventListener("input", syncClient);
$("#at").addEventListener("input", () => { atEdited = true; });
$("#place").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const answer = await api("calls", { from: form.get("from"), at: form.get("at") });
  currentCall = answer.id;
  spokenLines = 0;
  keyed = "";
  atEdited = false;
  refresh();
});
$("#keypad").addEventListener("click", (event) => {
  const key = event.target.dataset.key;
  if (!key || event.target.disabled) return;
  // Keys go to the IVR once the question has all it takes: its number of digits, or its
  // finish key (# for a contract number); a one-key menu answers at the first key.
  keyed += key;
  $("#keyed").textContent = keyed;
  const [howMany, finish] = keysExpected || [1, ""];
  if ((howMany && keyed.length >= howMany) || (finish && key === finish) || !keysExpected) {
    const sent = keyed;
    keyed = "";
    callerDoes("press", sent);
  }
});
$("#say").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = event.target.elements.text.value.trim();
  if (text) callerDoes("say", text);
  event.target.reset();
});
$("#reply").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = event.target.elements.text.value.trim();
  if (!text) return;
  try {
    await api("texts", { from: $("#from").value.trim(), text });
    event.target.reset();
  } catch (error) { /* shown already */ }
  refresh();
});
$("#silence").addEventListener("click", () => callerDoes("silence"));
$("#message").addEventListener("click", () => callerDoes("message", "15"));
$("#hangup").addEventListener("click", () => callerDoes("hangup"));
document.body.addEventListener("click", async (event) => {
  const { sid, call, number, action, value, advance } = event.target.dataset;
  try {
    if (sid && action) await api(`outbound/${sid}/${action}`, { value });
    else if (call && number && action) await api(`calls/${call}/transfer`, { number, action, value });
    else if (advance) await api("clock", { minutes: Number(advance) });
    else return;
  } catch (error) { /* shown already */ }
  refresh();
});
$("#next-job").addEventListener("click", async () => {
  try { await api("clock", { next_job: true }); } catch (error) { /* shown already */ }
  refresh();
});
document.querySelectorAll("#behaviours select").forEach((select) => {
  select.addEventListener("change", () =>
    api("behaviour", { number: select.dataset.number, behaviour: select.value }).catch(() => {}));
});
document.querySelectorAll("[data-case]").forEach((button) => {
  button.addEventListener("click", async () => {
    const chosen = await api(`guide/${button.dataset.case}`, {});
    $("#from").value = chosen.caller;
    syncClient();
    if (chosen.at) { $("#at").value = chosen.at; atEdited = true; } else { atEdited = false; }
    refresh();
    $("#place button[type=submit]").focus();
  });
});

syncClient();
refresh();
setInterval(refresh, 1500);
