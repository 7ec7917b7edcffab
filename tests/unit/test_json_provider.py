"""The service's JSON encoder (orjson): what the standard library would write, except where that is not JSON."""

import json
import math

import numpy as np
from flask import Flask

from hailo_scrfd.http.json_provider import OrjsonProvider, encode


def test_compact_ordered_and_numpy_scalars_as_python_values():
    body = {"b": np.float32(0.5), "a": np.int64(3), "c": [np.bool_(True), np.arange(3)], 7: "seven"}
    assert encode(body) == b'{"b":0.5,"a":3,"c":[true,[0,1,2]],"7":"seven"}'
    assert json.loads(encode(body)) == {"b": 0.5, "a": 3, "c": [True, [0, 1, 2]], "7": "seven"}


def test_non_finite_numbers_become_null_not_invalid_json():
    assert encode({"x": math.nan, "y": math.inf, "z": np.float64(-np.inf)}) == b'{"x":null,"y":null,"z":null}'


def test_flask_responses_end_with_a_newline_and_dumps_does_not():
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    with app.app_context():
        assert app.json.response({"a": 1}).get_data() == b'{"a":1}\n'
        assert app.json.dumps({"a": 1}) == '{"a":1}'
        assert app.json.loads('{"a": 1}') == {"a": 1}
