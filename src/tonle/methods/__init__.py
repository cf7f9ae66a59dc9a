"""Cards and bank accounts on file: linking them (Tonle's page, the card vault, the bank's consent), listing,
charging them for a settle payment or a wallet top-up, and removing them."""
