import modkit


def test_public_names_are_exported():
    for name in modkit.__all__:
        assert hasattr(modkit, name), name
