"""Finnish and Swedish for the socket packet errors found by tests/test_fuzz_events.py."""

FI = {
    "The event could not be read. Send an event name and one JSON object.":
        "Tapahtumaa ei voitu lukea. Lähetä tapahtuman nimi ja yksi JSON-objekti.",
}

SV = {
    "The event could not be read. Send an event name and one JSON object.":
        "Händelsen kunde inte läsas. Skicka ett händelsenamn och ett JSON-objekt.",
}
