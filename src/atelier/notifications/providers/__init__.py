"""Message providers behind one typed protocol: WhatsApp Cloud API, SMTP email, and the log."""
