"""A stand-in for Twilio, for the tests and the demo: places calls into the app's webhooks and
follows the TwiML back, as Twilio would.

`phone` plays a whole call (the caller's, or the callee's side of a call the app placed) and
keeps its transcript; `twiml` follows one leg's documents, `dialer` runs a `<Dial>` and its
whispers, `transports` reach the app in-process or over HTTP; `twiml_schema` checks every
answer against Twilio's schema. `rest` is a fake of Twilio's REST API; `demo` and `pages`
are the demo's simulator page.
"""
