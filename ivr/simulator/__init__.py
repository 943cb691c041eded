"""A stand-in for Twilio: places calls into the IVR's webhooks and follows the TwiML back.

`ivr.simulator.phone` drives a whole call (caller and dialed technicians) as Twilio would and
records it as a transcript; `ivr.simulator.twiml_schema` checks documents against Twilio's XSD.
Used by the tests, and meant to power a browser phone simulator too.
"""
