"""The flash sale: the cached product listing, the checkout flow, and their routes."""
