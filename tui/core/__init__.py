"""Everything a script could reuse: no Textual import, ever."""
