"""The privacy policy lives in protocol/privacy.py, shared by edge, gateway and cloud."""

from protocol.privacy import PrivacyPolicy, may_leave, parse_privacy, policy_for

__all__ = ["PrivacyPolicy", "may_leave", "parse_privacy", "policy_for"]
