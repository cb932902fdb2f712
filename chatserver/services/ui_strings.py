"""The widget's UI strings. The Babel catalogs are their one source of truth; the widget gets them
translated from `GET /api/v1/widget/config` (the `strings` object), so the bundle holds no text.

Keys are what widget/src/*.js asks for; `{name}`-style placeholders are filled in by the widget.
"""

from __future__ import annotations

from chatserver.i18n import gettext_noop as _
from chatserver.services.context import Context

WIDGET_STRINGS: dict[str, str] = {
    "open_chat": _("Open chat"),
    "unread": _("Unread messages: {count}"),
    "title": _("Chat with us"),
    "minimise": _("Minimise chat"),
    "options": _("Chat options"),
    "read_notice": _("Read the full privacy notice"),
    "new_tab": _("(opens in a new tab)"),
    "notice_ack": _("By starting the chat you confirm that you have read the privacy notice."),
    "start_chat": _("Start chat"),
    "offline_heading": _("Leave us a message"),
    "offline_intro": _("No one is online right now. Leave a message and we will reply by email."),
    "offline_ack": _("By sending the message you confirm that you have read the privacy notice."),
    "name": _("Name"),
    "email": _("Email address"),
    "message": _("Message"),
    "send_message": _("Send message"),
    "offline_sent": _("Thank you! Your message was sent. We will reply by email."),
    "close": _("Close"),
    "back_to_chat": _("Back to the chat"),
    "required": _("Please fill in this field."),
    "invalid_email": _("Please check the email address; it does not look valid."),
    "connecting": _("Connecting…"),
    "reconnecting": _("The connection was lost. Reconnecting…"),
    "state_new": _("Write your question below."),
    "state_bot": _("You are chatting with our automatic assistant."),
    "state_queued": _("Waiting for a customer service agent…"),
    "state_queue_position": _("Waiting for a customer service agent. You are number {position} "
                              "in the queue."),
    "state_active": _("You are chatting with {name}."),
    "state_closed": _("The chat has ended."),
    "nobody_online": _("No one is online right now."),
    "leave_message": _("Leave a message instead"),
    "talk_to_person": _("Talk to a person"),
    "choices": _("Suggested questions"),
    "typing": _("{name} is typing…"),
    "agent": _("Customer service"),
    "you": _("You"),
    "assistant": _("Assistant"),
    "messages": _("Messages"),
    "your_message": _("Your message"),
    "send": _("Send"),
    "sending": _("Sending…"),
    "failed": _("Not sent."),
    "retry": _("Try again"),
    "email_transcript": _("Email me the transcript"),
    "transcript_heading": _("Email the transcript"),
    "transcript_intro": _("We will send the transcript of this chat to this address when the "
                          "chat ends. The address is used for nothing else."),
    "transcript_send": _("Send me the transcript"),
    "transcript_requested": _("The transcript will be sent to {email} when the chat ends."),
    "download_transcript": _("Download the transcript"),
    "downloaded": _("The transcript was downloaded."),
    "delete_conversation": _("Delete this conversation"),
    "delete_heading": _("Delete this conversation?"),
    "delete_text": _("All messages of this chat are deleted from our server right away. "
                     "This cannot be undone."),
    "delete_confirm": _("Delete"),
    "cancel": _("Cancel"),
    "deleted": _("Your conversation was deleted."),
    "end_chat": _("End chat"),
    "new_chat": _("Start a new chat"),
    "error_offline": _("There is no connection to the chat right now. Please try again soon."),
    "error_generic": _("Something went wrong. Please try again."),
    # The rating when a chat ends (issue 22).
    "rating_heading": _("How did we do?"),
    "rating_scale": _("Your rating from 1 (poor) to 5 (excellent)"),
    "rating_comment": _("Comment (optional)"),
    "rating_send": _("Send rating"),
    "rating_skip": _("Skip"),
    "rating_thanks": _("Thank you for your feedback!"),
}


def widget_strings(ctx: Context, language: str) -> dict[str, str]:
    """Every widget string in `language` (English where a translation is missing)."""
    return ctx.translator.table(language, WIDGET_STRINGS)
