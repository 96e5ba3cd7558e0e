"""Test data for clinics, staff and clients. Factories write rows directly;
the services are exercised by their own tests."""

from __future__ import annotations

import factory

from clients.models import Client, Clinic, User


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    clinic = factory.SubFactory(ClinicFactory)
    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = factory.Sequence(lambda n: f"Staff{n}")
    last_name = "Member"
    password = factory.django.Password("correct horse battery")


class TherapistFactory(StaffFactory):
    is_therapist = True


class SupervisorFactory(StaffFactory):
    is_supervisor = True


class ClinicAdminFactory(StaffFactory):
    is_clinic_admin = True
    is_staff = True


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    therapist = factory.SubFactory(TherapistFactory)
    clinic = factory.LazyAttribute(lambda o: o.therapist.clinic)
    label = factory.Sequence(lambda n: f"C.{n}")
    language = Client.Language.ENGLISH
