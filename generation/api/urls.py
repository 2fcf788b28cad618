from django.urls import path

from . import analyze, views

urlpatterns = [
    path("apps/images/generate", views.GenerateView.as_view(), name="images-generate"),
    path("apps/images/edit", views.EditView.as_view(), name="images-edit"),
    path("apps/images/reverse-search", views.ReverseSearchView.as_view(), name="images-reverse-search"),
    path("apps/images/analyze", analyze.AnalyzeView.as_view(), name="images-analyze"),
    path("apps/images/analyze/models", analyze.AnalysisModelsView.as_view(), name="images-analyze-models"),
    path("apps/images/models", views.ModelsView.as_view(), name="images-models"),
    path("tasks/<str:task_id>", views.TaskView.as_view(), name="task"),
    path("embeds/<str:embed_id>/report", views.ReportView.as_view(), name="embed-report"),
    path("webhooks/secret", views.WebhookSecretView.as_view(), name="webhook-secret"),
    path("tasks/<str:task_id>/cancel", views.CancelTaskView.as_view(), name="task-cancel"),
]
