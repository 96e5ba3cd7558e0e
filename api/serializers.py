"""What the API shows of each record: an allow-list of fields, like the CSV exports'.

Never free text (notes, comments, void reasons, concern notes), never a client's e-mail
address: the API serves the clinic's tools with numbers and states, as the exports do.
"""

from __future__ import annotations

from rest_framework import serializers

from clients.models import Client
from measures.models import Concern, OutcomeAnswer, Rating
from measures.scoring import DIMENSIONS
from sessions.models import Session


class ClientSerializer(serializers.ModelSerializer):
    erased = serializers.SerializerMethodField()

    class Meta:
        model = Client
        fields = [
            "id", "label", "external_id", "language", "status", "therapist",
            "created_at", "discharged_at", "erased",
        ]  # fmt: skip
        read_only_fields = fields

    def get_erased(self, client: Client) -> bool:
        return client.erased_at is not None


class SessionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Session
        fields = [
            "id", "client", "therapist", "number", "starts_at", "duration_minutes",
            "attendance", "modality", "voided_at",
        ]  # fmt: skip
        read_only_fields = fields


class RatingSerializer(serializers.ModelSerializer):
    client = serializers.IntegerField(source="session.client_id", read_only=True)
    alliance_score = serializers.DecimalField(max_digits=4, decimal_places=1, read_only=True)
    # Only for the therapist who guessed and those who oversee them (`with_guess_shown_to`).
    guessed_client_score = serializers.IntegerField(
        source="shown_guess", read_only=True, allow_null=True
    )

    class Meta:
        model = Rating
        fields = [
            "id", "session", "client", "rater", *DIMENSIONS, "alliance_score",
            "rupture", "rupture_resolved", "guessed_client_score", "submitted_at",
        ]  # fmt: skip
        read_only_fields = fields


class OutcomeAnswerSerializer(serializers.ModelSerializer):
    client = serializers.IntegerField(source="session.client_id", read_only=True)

    class Meta:
        model = OutcomeAnswer
        fields = [
            "id", "session", "client", "instrument", "answers", "score", "track",
            "expected", "lowest_on_track", "submitted_at",
        ]  # fmt: skip
        read_only_fields = fields


class ConcernSerializer(serializers.ModelSerializer):
    class Meta:
        model = Concern
        fields = [
            "id", "client", "status", "severity", "opening_rule", "opened_at",
            "first_session", "last_session", "acknowledged_at", "closed_at",
        ]  # fmt: skip
        read_only_fields = fields
