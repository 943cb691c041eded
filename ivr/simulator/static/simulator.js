// The phone simulator page: places calls, presses keys, answers the staff's phones, and
// shows what the dispatcher did. It only talks to /simulator/api (same origin).
"use strict";

const $ = (selector) => document.querySelector(selector);
let currentCall = null;
let spokenLines = 0;
let keysExpected = null; // [how many, finish key] at the question being asked
let keyed = ""; // keys pressed but not sent yet, as a phone's keypad holds them

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
  setTimeout(() => { box.hidden = true; }, 5000);
}

function speak(lines) {
  if (!$("#voice").checked || !window.speechSynthesis) return;
  for (const line of lines) {
    if (!line.startsWith("IVR: ")) continue;
    const utterance = new SpeechSynthesisUtterance(line.slice(5));
    utterance.lang = "fr-FR";
    window.speechSynthesis.speak(utterance);
  }
}

function renderCaller(state) {
  const call = state.calls.find((c) => c.id === currentCall);
  $("#current-call").hidden = !call;
  if (!call) return;
  keysExpected = call.keys;
  $("#keyed").textContent = keyed;
  const box = $("#caller-transcript");
  box.textContent = call.transcript.join("\n");
  box.scrollTop = box.scrollHeight;
  speak(call.transcript.slice(spokenLines));
  spokenLines = call.transcript.length;
}

function phoneButtons(sid, actions) {
  return actions.map(([action, label, value]) =>
    `<button data-sid="${escapeHtml(sid)}" data-action="${escapeHtml(action)}" data-value="${escapeHtml(value || "")}">${escapeHtml(label)}</button>`).join(" ");
}

function renderStaff(state) {
  $("#ringing").innerHTML = state.ringing.map((c) => `
    <div class="phone ringing"><strong>${escapeHtml(c.to)}</strong> sonne (appel du service d'astreinte)
      <div class="actions">${phoneButtons(c.sid, [
        ["answer", "Décrocher"], ["voicemail", "Laisser la messagerie répondre"],
        ["no-answer", "Laisser sonner"], ["busy", "Occupé"]])}</div></div>`).join("");
  $("#outbound").innerHTML = state.outbound.map((c) => `
    <div class="phone"><strong>${escapeHtml(c.to)}</strong> ${c.ended ? "— terminé" : "— en ligne"}
      <div class="transcript">${escapeHtml(c.transcript.join("\n"))}</div>
      ${c.waiting ? `<div class="keypad">${phoneButtons(c.sid,
        [..."123456789*0#"].map((key) => ["press", key, key]))}</div>
        <div class="actions">${phoneButtons(c.sid, [
        ["silence", "Silence"], ["hangup", "Raccrocher"]])}</div>` : ""}
    </div>`).join("");
  $("#messages").innerHTML = state.messages.map((m) =>
    `<li><strong>${escapeHtml(m.to)}</strong> : ${escapeHtml(m.body)}</li>`).join("") || "<li>Aucun.</li>";
}

function renderDispatcher(state) {
  $("#sheets").innerHTML = state.sheets.map((s) =>
    `<li><a href="/simulator/sheets/${encodeURIComponent(s.name)}.pdf" target="_blank">${escapeHtml(s.name)}</a></li>`,
  ).join("") || "<li>Aucune fiche pour l'instant.</li>";
  $("#jobs").innerHTML = "<tr><th>Quoi</th><th>Pour</th><th>Quand</th><th>État</th></tr>" +
    state.jobs.map((j) => `<tr><td>${escapeHtml(j.kind)}</td><td>${escapeHtml(j.to)}</td>` +
      `<td>${escapeHtml(j.due)}</td><td>${escapeHtml(j.status)} ${escapeHtml(j.outcome)}</td></tr>`).join("");
}

// Everything put into the page's HTML goes through here: numbers, names and words come from
// the requests the simulator was sent, and the page is on the back office's origin.
function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

async function refresh() {
  try {
    const state = await api("state");
    $("#clock").textContent = state.clock;
    renderCaller(state);
    renderStaff(state);
    renderDispatcher(state);
  } catch (error) { /* shown already */ }
}

async function callerDoes(action, value) {
  if (currentCall === null) return;
  await api(`calls/${currentCall}/${action}`, { value });
  refresh();
}

$("#place").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const answer = await api("calls", { from: form.get("from"), at: form.get("at") });
  currentCall = answer.id;
  spokenLines = 0;
  refresh();
});
$("#keypad").addEventListener("click", (event) => {
  const key = event.target.dataset.key;
  if (!key) return;
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
$("#silence").addEventListener("click", () => callerDoes("silence"));
$("#message").addEventListener("click", () => callerDoes("message", "15"));
$("#hangup").addEventListener("click", () => callerDoes("hangup"));
document.body.addEventListener("click", async (event) => {
  const { sid, action, value, advance } = event.target.dataset;
  if (sid && action) { await api(`outbound/${sid}/${action}`, { value }); refresh(); }
  if (advance) { await api("clock", { minutes: Number(advance) }); refresh(); }
});
$("#next-job").addEventListener("click", async () => { await api("clock", { next_job: true }); refresh(); });
document.querySelectorAll("#behaviours select").forEach((select) => {
  select.addEventListener("change", () =>
    api("behaviour", { number: select.dataset.number, behaviour: select.value }));
});

refresh();
setInterval(refresh, 1500);
