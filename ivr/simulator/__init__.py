"""A stand-in for Twilio, for the tests and the demo: places calls into the app's webhooks and
follows the TwiML back, as Twilio would.

`phone` plays a caller's whole call and `outbound` the callee's side of a call the app placed
(both `played` calls, keeping a transcript); `twiml` follows one leg's documents, `dialer` runs
a `<Dial>` and its whispers (with scripted callees, or live ones a person answers on the page),
`transports` reach the app in-process or over HTTP; `twiml_schema` checks every answer against
Twilio's schema. `rest` is a fake of Twilio's REST API; `demo` and `pages` are the demo's
simulator page, `guide` its cases to try and `words` everything it shows, in French.
"""
