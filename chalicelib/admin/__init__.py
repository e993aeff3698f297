"""The admin panel and admin API: staff manage users and sites; every action is audited."""
