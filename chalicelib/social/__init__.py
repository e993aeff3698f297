"""Social: Instagram accounts (Instagram API with Instagram Login), scheduled posts, insights."""
