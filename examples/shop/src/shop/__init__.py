"""The commerce_kit reference app: a flash-sale shop.

Start it with ``shop serve``; build it in code with :func:`shop.app.create_app`.
"""
