"""Finnish and Swedish for the REST API's validation messages added with the Schemathesis run
(tests/test_api_fuzz.py); applied to the catalogs by tools/fill_catalogs.py."""

FI = {
    "The field “{field}” is too short (at least {limit} characters).":
        "Kenttä ”{field}” on liian lyhyt (vähintään {limit} merkkiä).",
}

SV = {
    "The field “{field}” is too short (at least {limit} characters).":
        "Fältet ”{field}” är för kort (minst {limit} tecken).",
}
