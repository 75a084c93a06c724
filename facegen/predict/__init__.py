"""``facegen predict``: find the faces in photos, classify them, write rows and pictures."""
