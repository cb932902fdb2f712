"""The built-in FAQ assistant (docs/bot.md), above the chat core: it plugs in through
`ctx.assistant` and the chat core never imports it.

- bot.py: the flow (greeting, answer, choices, hand-off) and the hooks the chat core calls;
- text.py, match.py, confidence.py: words, the scores of the entries, how sure it is;
- faq.py: the operator's FAQ file; privacy_answers.py: answers built from the live notice;
- evaluation.py: `chatserver bot eval`.
"""
