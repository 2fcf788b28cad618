"""Sign-up, log-in/out and the settings page (API keys, privacy preference)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from .api_keys import do_create_api_key, do_revoke_api_key
from .deletion import do_delete_account
from .forms import ApiKeyForm, PreferencesForm, SignupForm
from .models import ApiKey, UserPreferences


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("/")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("/")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    prefs, _ = UserPreferences.objects.get_or_create(user=request.user)
    new_key = None
    key_form = ApiKeyForm()
    prefs_form = PreferencesForm(initial={"embed_prompt_in_metadata": prefs.embed_prompt_in_metadata})
    if request.method == "POST" and request.POST.get("action") == "create_key":
        key_form = ApiKeyForm(request.POST)
        if key_form.is_valid():
            new_key = do_create_api_key(request.user, name=key_form.cleaned_data["name"]).raw_key
            key_form = ApiKeyForm()
    elif request.method == "POST" and request.POST.get("action") == "preferences":
        prefs_form = PreferencesForm(request.POST)
        if prefs_form.is_valid():
            prefs.embed_prompt_in_metadata = prefs_form.cleaned_data["embed_prompt_in_metadata"]
            prefs.save(update_fields=["embed_prompt_in_metadata"])
            messages.success(request, "Preferences saved.")
            return redirect("settings")
    keys = ApiKey.objects.filter(user=request.user, revoked_at__isnull=True)
    return render(
        request,
        "accounts/settings.html",
        {"keys": keys, "new_key": new_key, "key_form": key_form, "prefs_form": prefs_form},
    )


@sensitive_post_parameters("password")
@login_required
@require_POST
def delete_account(request: HttpRequest) -> HttpResponse:
    if not request.user.check_password(request.POST.get("password", "")):
        messages.error(request, "Your account was not deleted: the password did not match.")
        return redirect("settings")
    user = request.user
    logout(request)
    do_delete_account(user)
    return redirect("signup")


@login_required
@require_POST
def revoke_key(request: HttpRequest, key_id: str) -> HttpResponse:
    do_revoke_api_key(get_object_or_404(ApiKey, pk=key_id, user=request.user))
    messages.success(request, "API key revoked.")
    return redirect("settings")
