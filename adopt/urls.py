from django.urls import path

from adopt import views

urlpatterns = [
    path("adopt/", views.adopt_page, name="adopt_page"),
    path("adopt/upload/", views.adopt_upload, name="adopt_upload"),
    path("adopt/<int:adoption_id>/", views.adoption, name="adoption"),
    path("adopt/<int:adoption_id>/confirm/", views.adoption_confirm, name="adoption_confirm"),
    path("adopt/<int:adoption_id>/cancel/", views.adoption_cancel, name="adoption_cancel"),
]
