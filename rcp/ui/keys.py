"""Every st.session_state key, in one place (ids and UI flags only, never models)."""

# Set by tests (AppTest has no cookies) and nowhere else: the session token to use.
TEST_TOKEN = "auth_test_token"
# The URL path and query the visitor asked for before signing in, replayed afterwards.
NEXT_URL = "auth_next_url"
# Sign-in second step.
SIGNIN_CHALLENGE = "signin_challenge_id"
SIGNIN_CHANNEL = "signin_channel"
SIGNIN_MASKED_PHONE = "signin_masked_phone"
SIGNIN_TOTP = "signin_totp_available"
SIGNIN_REDIRECT = "signin_redirect_url"
# Registration finished (shows the confirmation instead of the form).
REGISTERED_EMAIL = "register_done_email"
REGISTER_INVITE = "register_invite_token"
# Account page.
PHONE_CHALLENGE = "account_phone_challenge_id"
TOTP_URI = "account_totp_uri"
# A one-shot message shown after a rerun.
FLASH = "flash_message"
# Last sign-out redirect.
SIGNOUT_REDIRECT = "signout_redirect_url"
# Equipment check page: this page's check id (the server's measurements: MediaHub.check_probe).
MATERIEL_CHECK = "materiel_check_id"
# Invitations page: the French message of the last failed "Envoyer l'invitation".
INVITATIONS_ERROR = "invitations_send_error"
# Cases already opened in this browser session (their first view is audited).
CASES_VIEWED = "cases_viewed_ids"
# Opinion pages (/avis) already opened in this browser session (their first view is audited).
OPINIONS_VIEWED = "opinions_viewed_case_ids"
# Bumped to give the case form's file uploader a new key (clears it after an upload).
CASE_UPLOAD_ROUND = "case_upload_round"
# What the last "Ajouter les fichiers" refused or skipped: [(level, French text)], shown once.
CASE_UPLOAD_REPORT = "case_upload_report"
# Video room (pages/salle.py): the meeting id read once from the URL, this tab's name (the
# prefix of its seats in the room: rcp.room.hub), and the presenter the page was drawn for.
SALLE_MEETING = "salle_meeting_id"
SALLE_TAB = "salle_tab"
SALLE_PRESENTER = "salle_presenter_seen"
# Meeting page (pages/seance.py): the chat lines shown so far (a chat_panel.ChatBuffer), and
# the French message of a live-panel action (hand raised, floor given) that failed.
SEANCE_CHAT = "seance_chat_buffer"
SEANCE_LIVE_ERROR = "seance_live_error"
# Video room: the French message of a coordinator's failed screen-share grant or withdrawal.
SALLE_PANEL_ERROR = "salle_panel_error"
# Opinion page: the French message of the last failed "Enregistrer le brouillon" / "Valider".
AVIS_ERROR = "avis_submit_error"
# Case form: the last submission's mistakes, {field: French message}, shown under each field.
CASE_FORM_ERRORS = "case_form_errors"
# The page's language ("fr" or "en", rcp.ui.language), set at the start of every run.
LANGUAGE = "page_language"
