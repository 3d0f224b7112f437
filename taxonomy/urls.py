from django.urls import path

from . import views

app_name = "taxonomy"
urlpatterns = [
    path("", views.taxonomy_index, name="index"),
    path("<slug:vocabulary>/<str:code>/", views.term_detail, name="term"),
]
