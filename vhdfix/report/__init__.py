"""Reports: the human text form of a result (the JSON form is the result's ``to_json``)."""
