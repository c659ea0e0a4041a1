"""The directory: tenants, users, licences, numbers, app registrations, consent, communication resources."""
