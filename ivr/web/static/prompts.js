// The « Écouter » buttons of the Messages pages: the browser's own French voice reads a
// prompt aloud, its {values} replaced by example values. A button reads either its
// `data-say` (the words in force, filled by the server) or, with `data-source`, the text of
// that field as it stands, filled from its `data-examples` (JSON). Served as a file: the
// pages' Content-Security-Policy allows no inline script. Nothing is ever written as HTML.
(function () {
  "use strict";

  var speech = window.speechSynthesis;
  var status = document.getElementById("listen-status");

  function say(message) {
    if (status) {
      status.textContent = message;
    }
  }

  // As the calls fill a prompt (ivr/domain/prompts.py): {{ and }} are braces, a declared
  // {value} its example, anything else in braces is left out.
  function filled(text, examples) {
    return text.replace(/\{\{|\}\}|\{([^{}]*)\}/g, function (whole, name) {
      if (whole === "{{") {
        return "{";
      }
      if (whole === "}}") {
        return "}";
      }
      var field = name.split(/[!:]/)[0];
      return Object.prototype.hasOwnProperty.call(examples, field) ? String(examples[field]) : "";
    });
  }

  function wordsOf(button) {
    var source = button.getAttribute("data-source");
    if (!source) {
      return button.getAttribute("data-say") || "";
    }
    var field = document.getElementById(source);
    var examples = {};
    try {
      examples = JSON.parse(button.getAttribute("data-examples") || "{}");
    } catch (error) {
      examples = {};
    }
    return filled(field ? field.value : "", examples);
  }

  function frenchVoice() {
    var voices = speech.getVoices ? speech.getVoices() : [];
    for (var i = 0; i < voices.length; i += 1) {
      if (/^fr([-_]FR)?$/i.test(voices[i].lang)) {
        return voices[i];
      }
    }
    return null;
  }

  function listen(event) {
    var words = wordsOf(event.currentTarget).trim();
    if (!words) {
      say("Rien à lire : le texte est vide.");
      return;
    }
    speech.cancel();
    var utterance = new SpeechSynthesisUtterance(words);
    utterance.lang = "fr-FR";
    var voice = frenchVoice();
    if (voice) {
      utterance.voice = voice;
    }
    say("");
    speech.speak(utterance);
  }

  var buttons = document.querySelectorAll("button[data-listen]");
  if (!speech || typeof window.SpeechSynthesisUtterance !== "function") {
    if (buttons.length) {
      say("Ce navigateur ne sait pas lire un texte à voix haute : le bouton « Écouter » n'est pas proposé.");
    }
    return;
  }
  for (var i = 0; i < buttons.length; i += 1) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", listen);
  }
})();
