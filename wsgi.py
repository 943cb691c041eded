from ivr.composition import create_app
app = create_app()
