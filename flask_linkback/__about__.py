__version__ = "0.1.0"
__url__ = "https://github.com/flask-linkback/flask-linkback"
