"""URLs of the people pages and sign-in help (included by config/urls_tenant.py)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from tenants.accounts.portal import account, signin, users

urlpatterns = [
    path("manage/users/", users.user_list, name="manage-users"),
    path("manage/users/<int:user_id>/", users.user_detail, name="manage-user"),
    path("manage/users/<int:user_id>/deactivate/", users.user_set_active, {"active": False},
         name="manage-user-deactivate"),
    path("manage/users/<int:user_id>/reactivate/", users.user_set_active, {"active": True},
         name="manage-user-reactivate"),
    path("manage/users/<int:user_id>/resend/", users.user_resend_invitation,
         name="manage-user-resend"),
    path("account/", account.account, name="account"),
    path("account/tokens/new/", account.token_new, name="account-token-new"),
    path("account/tokens/<int:token_id>/revoke/", account.token_revoke_view,
         name="account-token-revoke"),
    path("accounts/password-reset/", signin.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password-reset/sent/", auth_views.PasswordResetDoneView.as_view(
        template_name="registration/password_reset_done.html"), name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/", signin.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(
        template_name="registration/password_reset_complete.html"),
         name="password_reset_complete"),
    path("accounts/invitation/<uidb64>/<token>/", signin.invitation_accept_view,
         name="invitation-accept"),
]
