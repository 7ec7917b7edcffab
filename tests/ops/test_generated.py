"""The files generated from the declarations (the shipped YAML, the options in openapi.json) are committed as
generated: editing a declaration without regenerating, or editing the file by hand, fails here."""

import copy
import subprocess
import sys

import yaml

from hailo_scrfd.http.openapi import packaged_document
from hailo_scrfd.http.openapi_options import PATH_OPTIONS, with_declared_options
from hailo_scrfd.system.config import SCRFDServiceConfig
from hailo_scrfd.system.template import config_template

from ..conftest import ROOT


def test_the_committed_files_are_what_the_declarations_generate():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate.py"), "--check"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_every_option_of_every_operation_is_rewritten():
    """A hand edit of any option's schema or description is undone by the generator."""
    spec = packaged_document()
    edited = copy.deepcopy(spec)
    for path in PATH_OPTIONS:
        operation = edited["paths"][path]["post"]
        for parameter in operation["parameters"]:
            parameter["description"], parameter["schema"] = "edited", {}
        for media in ("application/json", "multipart/form-data"):
            for name, prop in operation["requestBody"]["content"][media]["schema"]["properties"].items():
                if name not in ("image", "images", "url"):
                    prop.clear()
    parameters = [p["name"] for p in edited["paths"]["/v1/track"]["post"]["parameters"]]
    assert parameters[0] == "session"  # not an option: left as written
    edited["paths"]["/v1/track"]["post"]["parameters"][0] = spec["paths"]["/v1/track"]["post"]["parameters"][0]
    assert with_declared_options(edited) == spec


def test_the_template_is_the_default_config():
    text = config_template(SCRFDServiceConfig)
    warnings = []
    assert SCRFDServiceConfig.from_mapping(yaml.safe_load(text), warnings.append) == SCRFDServiceConfig()
    assert warnings == [] and text.count("Fails closed.") >= 16
