"""Finnish and Swedish for the security strings (docs/security.md); applied by
tools/fill_catalogs.py."""

FI = {
    "Requests from another site are not accepted here.": "Toiselta sivustolta tulevia pyyntöjä ei hyväksytä tässä.",
    "Many messages have been left just now. Please try again later.": "Viestejä on jätetty juuri nyt paljon. Yritä myöhemmin uudelleen.",
    "You have already left several messages. We will answer them as soon as we can.": "Olet jo jättänyt useita viestejä. Vastaamme niihin niin pian kuin voimme.",
    "Too many chat windows are open from your network. Close one and try again.": "Verkostasi on auki liian monta chat-ikkunaa. Sulje yksi ja yritä uudelleen.",
    "Many conversations have been started from your network just now. Please try again later.": "Verkostasi on juuri aloitettu paljon keskusteluja. Yritä myöhemmin uudelleen.",
    "Many messages have been left from your network just now. Please try again later.": "Verkostasi on juuri jätetty paljon viestejä. Yritä myöhemmin uudelleen.",
}

SV = {
    "Requests from another site are not accepted here.": "Förfrågningar från en annan webbplats tas inte emot här.",
    "Many messages have been left just now. Please try again later.": "Många meddelanden har lämnats just nu. Försök igen senare.",
    "You have already left several messages. We will answer them as soon as we can.": "Du har redan lämnat flera meddelanden. Vi svarar på dem så snart vi kan.",
    "Too many chat windows are open from your network. Close one and try again.": "För många chattfönster är öppna från ditt nätverk. Stäng ett och försök igen.",
    "Many conversations have been started from your network just now. Please try again later.": "Många samtal har just startats från ditt nätverk. Försök igen senare.",
    "Many messages have been left from your network just now. Please try again later.": "Många meddelanden har just lämnats från ditt nätverk. Försök igen senare.",
}
