"""Sites: mini websites and link-in-bio pages built from templates (owner-side API comes later)."""
