"""searchqa in front of a real SGLang on a GPU host: install, launch and measure."""
