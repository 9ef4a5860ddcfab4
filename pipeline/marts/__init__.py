"""The indicator marts: the SQL models of sql/marts, built in order, incrementally, with their checks."""
