"""The sections of ``rtcscope analyze``: each a function ``section(model, options) ->
Section`` of the capture model (rtcscope.analyze lists them in order)."""
