import random
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from catalog.models import Category, Product

CATEGORIES = ["Books", "Electronics", "Garden", "Home", "Kitchen", "Office", "Outdoors", "Toys"]
ADJECTIVES = [
    "Compact", "Classic", "Deluxe", "Durable", "Ergonomic", "Handmade", "Lightweight",
    "Modern", "Portable", "Recycled", "Rustic", "Sturdy", "Vintage", "Waterproof",
]  # fmt: skip
MATERIALS = ["Bamboo", "Ceramic", "Copper", "Cotton", "Glass", "Leather", "Oak", "Steel", "Wool"]
NOUNS = [
    "Backpack", "Blanket", "Bookend", "Bottle", "Chair", "Clock", "Desk Lamp", "Kettle",
    "Lantern", "Mug", "Notebook", "Planter", "Speaker", "Teapot", "Tray", "Watering Can",
]  # fmt: skip
BATCH_SIZE = 1000


class Command(BaseCommand):
    help = (
        "Add N generated products (and the standard categories) for development and "
        "benchmarks. The same --seed always generates the same products, whose slugs "
        "are derived from the seed, so a rerun with the same seed and N adds nothing; "
        "a larger N adds only the missing ones; another seed adds a new set."
    )

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, required=True, metavar="N")
        parser.add_argument("--seed", type=int, default=0, metavar="S")

    def handle(self, *args, products: int, seed: int, **options):
        if products < 0:
            raise CommandError("--products must be zero or more.")
        if seed < 0:
            raise CommandError("--seed must be zero or more.")
        rng = random.Random(seed)  # noqa: S311 - reproducible sample data, not secrets
        with transaction.atomic():
            categories = [
                Category.objects.get_or_create(slug=slugify(name), defaults={"name": name})[0]
                for name in CATEGORIES
            ]
            before = Product.objects.count()
            batch = []
            for index in range(1, products + 1):
                # Draw every value for every index, so product i is the same
                # whatever N is.
                name = f"{rng.choice(ADJECTIVES)} {rng.choice(MATERIALS)} {rng.choice(NOUNS)}"
                price = Decimal(rng.randrange(99, 50_000)) / 100
                stock = rng.choice([0, *range(1, 200)])
                is_active = rng.random() >= 0.05
                category = rng.choice(categories)
                batch.append(
                    Product(
                        name=name,
                        slug=f"{slugify(name)}-s{seed}-{index}",
                        description=f"A {name.lower()} from the generated catalog (seed {seed}).",
                        price=price,
                        stock=stock,
                        is_active=is_active,
                        category=category,
                    )
                )
                if len(batch) == BATCH_SIZE:
                    Product.objects.bulk_create(batch, ignore_conflicts=True)
                    batch = []
            Product.objects.bulk_create(batch, ignore_conflicts=True)
            created = Product.objects.count() - before
        self.stdout.write(
            f"Created {created} products ({products - created} already there) "
            f"in {len(categories)} categories."
        )
