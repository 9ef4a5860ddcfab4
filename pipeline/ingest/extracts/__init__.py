"""Reading the monthly extracts: file names, encodings, headers, value forms, id numbers."""
