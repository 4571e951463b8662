from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers


class LanguageMiddleware:
    """Chinese first: pages are in the language the user chose (the switcher
    sets a cookie), else zh-hans, whatever the browser prefers. The API also
    honours Accept-Language, which is how integrations ask for English."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        is_api = request.path.startswith("/api/")
        if language not in self.supported:
            language = settings.LANGUAGE_CODE
            if is_api:
                preferred = translation.get_language_from_request(request)
                if preferred in self.supported:
                    language = preferred
        translation.activate(language)
        request.LANGUAGE_CODE = language
        try:
            response = self.get_response(request)
        finally:
            # Leave the thread as it was, so code that runs after a request in
            # the same thread (tests, the scheduler) is not in its language.
            translation.deactivate()
        response.headers.setdefault("Content-Language", language)
        if is_api:
            patch_vary_headers(response, ("Accept-Language",))
        return response
