from django import forms
from django.contrib.auth.forms import UserCreationForm


class SignupForm(UserCreationForm):
    """Username and password; nothing else is needed to use the app."""


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. laptop script", "autocomplete": "off"}),
        help_text="Optional: a name to recognise the key by.",
    )


class PreferencesForm(forms.Form):
    embed_prompt_in_metadata = forms.BooleanField(
        required=False,
        label="Write my prompt into generated images' metadata (IPTC AI Prompt Information)",
    )
    private_uploads_by_default = forms.BooleanField(
        required=False,
        label="Make my uploads private by default (encrypted in this browser; the server cannot see them)",
    )
