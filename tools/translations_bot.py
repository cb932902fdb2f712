"""Finnish and Swedish for the FAQ assistant (chatserver/services/bot.py, bot_privacy.py)."""

FI = {
    "Hello! I am an automatic assistant and I answer common questions right away. To chat with a person, just say so.": "Hei! Olen automaattinen avustaja ja vastaan yleisimpiin kysymyksiin heti. Jos haluat jutella ihmisen kanssa, kerro siitä.",
    "I will pass you to a person from our customer service. Please wait a moment; they will see what we have written here.": "Ohjaan sinut asiakaspalvelijallemme. Odota hetki – hän näkee, mitä olemme tähän kirjoittaneet.",
    "I am not sure I understood. I will pass your question to a person from our customer service; please wait a moment.": "En ole varma, ymmärsinkö oikein. Välitän kysymyksesi asiakaspalvelijallemme – odota hetki.",
    "No one from our customer service is online right now. You can leave a message and we will reply by email, or ask me something else.": "Asiakaspalvelustamme ei ole juuri nyt ketään paikalla. Voit jättää viestin, niin vastaamme sähköpostitse, tai kysyä minulta jotain muuta.",
    "I am not sure I understood, and no one from our customer service is online right now. You can leave a message and we will reply by email, or ask me in other words.": "En ole varma, ymmärsinkö oikein, eikä asiakaspalvelustamme ole juuri nyt ketään paikalla. Voit jättää viestin, niin vastaamme sähköpostitse, tai kysyä minulta toisin sanoin.",
    "How long your data is kept:": "Näin kauan tietojasi säilytetään:",
    "Only the customer service staff of {controller} can read the conversation. Each of them signs in with a personal account, and every reading is logged.": "Keskustelua voivat lukea vain asiakaspalvelumme työntekijät ({controller}). Jokainen heistä kirjautuu omalla henkilökohtaisella tunnuksellaan, ja jokainen lukukerta kirjataan lokiin.",
    "You can delete this conversation yourself, right now: open the chat menu and choose “{action}”. It is deleted from our server at once.": "Voit poistaa tämän keskustelun itse heti: avaa chatin valikko ja valitse ”{action}”. Keskustelu poistetaan palvelimeltamme saman tien.",
    "Delete this conversation": "Poista tämä keskustelu",
    "In the same menu you can also download the transcript of the conversation.": "Samasta valikosta voit myös ladata keskusteluhistorian itsellesi.",
    "The full privacy notice: {url}": "Koko tietosuojaseloste: {url}",
}

SV = {
    "Hello! I am an automatic assistant and I answer common questions right away. To chat with a person, just say so.": "Hej! Jag är en automatisk assistent och svarar direkt på vanliga frågor. Om du vill chatta med en människa, säg bara till.",
    "I will pass you to a person from our customer service. Please wait a moment; they will see what we have written here.": "Jag kopplar dig vidare till en person på vår kundtjänst. Vänta ett ögonblick – hen ser vad vi har skrivit här.",
    "I am not sure I understood. I will pass your question to a person from our customer service; please wait a moment.": "Jag är inte säker på att jag förstod. Jag skickar din fråga vidare till en person på vår kundtjänst – vänta ett ögonblick.",
    "No one from our customer service is online right now. You can leave a message and we will reply by email, or ask me something else.": "Ingen från vår kundtjänst är på plats just nu. Du kan lämna ett meddelande så svarar vi per e-post, eller fråga mig något annat.",
    "I am not sure I understood, and no one from our customer service is online right now. You can leave a message and we will reply by email, or ask me in other words.": "Jag är inte säker på att jag förstod, och ingen från vår kundtjänst är på plats just nu. Du kan lämna ett meddelande så svarar vi per e-post, eller fråga mig med andra ord.",
    "How long your data is kept:": "Så länge sparas dina uppgifter:",
    "Only the customer service staff of {controller} can read the conversation. Each of them signs in with a personal account, and every reading is logged.": "Bara kundtjänstpersonalen hos {controller} kan läsa konversationen. Var och en loggar in med ett personligt konto, och varje läsning loggas.",
    "You can delete this conversation yourself, right now: open the chat menu and choose “{action}”. It is deleted from our server at once.": "Du kan själv radera den här konversationen direkt: öppna chattens meny och välj ”{action}”. Den raderas från vår server på en gång.",
    "Delete this conversation": "Radera den här chatten",
    "In the same menu you can also download the transcript of the conversation.": "I samma meny kan du också ladda ner chatthistoriken.",
    "The full privacy notice: {url}": "Hela dataskyddsbeskrivningen: {url}",
}
