from streamtts.cli import app

app(prog_name="streamtts")
