"""The demo shop: a deterministic, generated online shop with planted customer types.

:func:`make_demo_shop` simulates a B2C online shop (order lines, products, customers with
demographics, browsing sessions, reviews) in steady state, with the messes of real logs and one
large behaviour shift, and returns it with the ground truth (:class:`DemoShop`).
:func:`write_demo_shop` writes it to disk in the generic, Olist or Online Retail II layout;
:func:`write_large_demo_shop` streams a shop of any size to partitioned Parquet in chunks.

How it is generated
-------------------
* **Population and steady state.** Customers are *acquired* (first order) over ``history_years``
  (default 10) before ``start`` and during the period, with yearly acquisition waves (January sales,
  Black Friday and Christmas; each type has its own wave profile). Only orders inside
  ``[start, start + months)`` are kept and ``n_customers`` counts customers with at least one order in
  the period: population blocks of :data:`BLOCK_SIZE` are drawn until enough are active and the first
  ``n_customers`` active ones (in population order) are kept. Seasonality repeats every year, so with
  ``shift=False`` the features of trailing 365-day windows are stationary (recency's PSI against
  January stays below about 0.06; order counts and order values below 0.01).
* **Purchases (BG/NBD-like).** Each customer has a purchase rate drawn from a gamma distribution
  (Poisson purchases, seasonally modulated per type: Q4 peak, gift buyers in November-December) and a
  dropout probability drawn from a beta distribution: after each purchase the customer leaves for good
  with that probability.
* **Orders.** Lines per order, categories (each type has a dominant one), products (popularity is
  heavy-tailed inside a category, list prices lognormal per category), quantities, discounts and
  channel all depend on the type.
* **Planted types** (:data:`CUSTOMER_TYPES`): loyal high spenders, frequent small-basket buyers,
  one-time bargain hunters, seasonal gift buyers, occasional buyers and lapsing regulars, differing in
  rate, basket, churn, category mix, channel, browsing, reviews and demographics.
* **The shift** (``shift=True``): at ``shift_date`` (two thirds through the period and at least 12
  months after ``start``) the shop launches a grocery delivery subscription. Every bargain hunter and
  occasional buyer active at that date (an order in the previous 365 days) or acquired after it
  subscribes with probability ``SUBSCRIPTION_UPTAKE``; subscribers stop their former purchases and
  from ``shift_date`` on (first delivery within 14 days) buy food and drink about twice a month
  (small baskets, app) until they cancel (``SUBSCRIPTION_MONTHLY_CHURN`` a month). Every kind of random draw has its own stream (:class:`numpy.random.SeedSequence` children),
  and the subscription has streams of its own, so everything dated before ``shift_date`` is identical
  with ``shift=True`` and ``shift=False``.
* **Messes** at realistic rates (counted in :attr:`DemoShop.messes` under the reason
  :func:`segkit.cleaning.clean_transactions` gives them): guest orders without a customer id,
  non-product lines (``POST`` postage on foreign orders, ``M`` manual adjustments, ``BANK CHARGES``,
  ``AMAZONFEE``, gift vouchers ``gift_0001_<value>``), exact duplicate lines, cancellations
  (``C``-prefixed invoices with negative quantities matching an earlier line of the same customer,
  product and unit price; most cancel the whole line) and zero-priced lines.

Targets (``shift=False``, defaults) and the real shops they imitate
-------------------------------------------------------------------
The last column is the demo shop's own figure (seed 0, 20,000 customers, ``shift=False``).

======================================  ==========  =============================================  ======
statistic                               target      published / measured real figures              demo
======================================  ==========  =============================================  ======
share of one-time buyers in the period  0.45-0.70   UCI Online Retail II (B2B gift wholesaler,     0.47
                                                    2009-2010, measured on the shared sample):
                                                    0.35; Olist (Brazilian B2C marketplace,
                                                    96,096 customers, 99,441 orders): 0.97. A B2C
                                                    shop with a loyal core lies in between.
customers with at most two orders       >= 0.60     Online Retail II: 0.51; Olist: 0.99            0.64
order value p90 / p10                   4-25        Online Retail II: 11 (766 / 69 GBP)            20
revenue share of the top 20% customers  0.55-0.85   Online Retail II: 0.66 (the Pareto "80/20")    0.74
Q4 share of a calendar year's revenue   0.27-0.36   US Census quarterly e-commerce, not            0.32
                                                    seasonally adjusted: about 0.3. Kept mild on
                                                    purpose: a stronger Q4 peak makes recency in
                                                    trailing 365-day windows cycle with the season
                                                    (PSI above 0.2 between January and June),
                                                    which the maintenance simulation reads as drift.
cancellation lines                      1-3%        Online Retail II sample: 3.0%                  1.8%
lines without customer id               1.5-5%      Online Retail II: about a fifth of all lines   3-4%
exact duplicate lines                   0.4-1.5%    Online Retail II sample: 1.75%                 0.8%
non-product lines                       0.5-4%      postage, fees, manual lines, vouchers          1.9%
zero prices                             0.1-0.6%    Online Retail II sample: 0.04%                 0.26%
======================================  ==========  =============================================  ======

With the shift, the subscribers (a third or more of the customers active at ``shift_date``) buy
every two weeks afterwards, so the one-time share over the whole period falls to about 0.25.

``tests/test_datasets.py`` checks every target on a generated shop.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segkit.cleaning import REASONS as CLEANING_REASONS
from segkit.io import OLIST_FILES
from segkit.schema import ParameterError

__all__ = [
    "BLOCK_SIZE",
    "CATEGORIES",
    "CUSTOMER_TYPES",
    "CustomerType",
    "DemoShop",
    "EXTRA_CUSTOMER_TYPES",
    "SUBSCRIBER",
    "TYPE_ORDER",
    "make_demo_shop",
    "write_demo_shop",
    "write_large_demo_shop",
]

#: Number of potential customers drawn per population block (the unit of generation and chunking).
BLOCK_SIZE = 16_384
#: Probability that an eligible customer takes up the subscription launched at ``shift_date``.
SUBSCRIPTION_UPTAKE = 0.85
#: First customer number (ids are decimal strings, as in Online Retail: "10000", "10001", ...).
FIRST_CUSTOMER_NUMBER = 10_000
#: First invoice number (cancellations share the sequence with a "C" prefix).
FIRST_INVOICE_NUMBER = 500_000
_DAY_MINUTES = 1440.0
_YEAR_DAYS = 365.25

# --------------------------------------------------------------------------- catalogue
#: Product categories: Olist's English category name -> (Portuguese name, number of products,
#: median list price, lognormal sigma of list prices). Names are Olist's so the Olist layout is exact.
CATEGORIES: dict[str, tuple[str, int, float, float]] = {
    "electronics": ("eletronicos", 120, 52.0, 0.55),
    "housewares": ("utilidades_domesticas", 150, 24.0, 0.6),
    "health_beauty": ("beleza_saude", 140, 13.0, 0.45),
    "fashion_bags_accessories": ("fashion_bolsas_e_acessorios", 160, 22.0, 0.55),
    "toys": ("brinquedos", 130, 28.0, 0.55),
    "sports_leisure": ("esporte_lazer", 120, 38.0, 0.6),
    "books_general_interest": ("livros_interesse_geral", 100, 13.0, 0.35),
    "garden_tools": ("ferramentas_jardim", 90, 32.0, 0.6),
    "food_drink": ("alimentos_bebidas", 110, 5.5, 0.4),
}
_CATEGORY_NAMES = tuple(CATEGORIES)
_NOUNS: dict[str, tuple[str, ...]] = {
    "electronics": ("HEADPHONES", "SMART SPEAKER", "TABLET", "CAMERA", "MONITOR", "CHARGER", "SMARTWATCH"),
    "housewares": ("TEA SET", "STORAGE JAR", "CANDLE HOLDER", "CUSHION", "LUNCH BOX", "PHOTO FRAME"),
    "health_beauty": ("FACE CREAM", "SHAMPOO", "LIP BALM", "SERUM", "HAND SOAP", "BODY LOTION"),
    "fashion_bags_accessories": ("TOTE BAG", "SCARF", "WALLET", "SUNGLASSES", "BELT", "BACKPACK"),
    "toys": ("BUILDING BLOCKS", "PUZZLE", "PLUSH BEAR", "BOARD GAME", "TOY CAR", "DOLL HOUSE"),
    "sports_leisure": ("YOGA MAT", "WATER BOTTLE", "RUNNING SOCKS", "DUMBBELL", "TENNIS BALLS"),
    "books_general_interest": ("NOVEL", "COOKBOOK", "TRAVEL GUIDE", "NOTEBOOK", "COLOURING BOOK"),
    "garden_tools": ("HOSE REEL", "PRUNER", "PLANTER", "WATERING CAN", "GARDEN GLOVES"),
    "food_drink": ("COFFEE BEANS", "OLIVE OIL", "PASTA", "GRANOLA", "TEA BAGS", "CHOCOLATE", "RICE"),
}
_ADJECTIVES = ("RED", "BLUE", "VINTAGE", "CLASSIC", "DELUXE", "MINI", "ORGANIC", "WHITE", "RETRO", "BLACK")

CHANNELS = ("web", "app", "store", "marketplace")
DEVICES = ("desktop", "mobile", "tablet")
GENDERS = ("female", "male", "unknown")
INCOME_BANDS = ("low", "middle", "high", "very_high")
ACQUISITION_CHANNELS = ("organic", "paid_search", "social", "email", "referral", "affiliate", "marketplace")
#: Countries (Online Retail spelling) with their share of customers.
COUNTRIES: dict[str, float] = {
    "United Kingdom": 0.9,
    "Germany": 0.025,
    "France": 0.02,
    "EIRE": 0.015,
    "Netherlands": 0.02,
    "Spain": 0.015,
    "Belgium": 0.01,
    "Switzerland": 0.01,
}
#: UK regions with their share of UK customers (other countries' region is the country).
UK_REGIONS: dict[str, float] = {
    "London": 0.2,
    "South East": 0.18,
    "North West": 0.12,
    "Midlands": 0.16,
    "South West": 0.1,
    "Yorkshire": 0.1,
    "Scotland": 0.09,
    "Wales": 0.05,
}

#: Generic retail month profile (January..December) of purchase intensity: the Q4 peak.
_RETAIL_MONTHS = (0.95, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 1.0, 1.15, 1.3)
#: Gift buyers' month profile: November-December concentrate most purchases.
_GIFT_MONTHS = (0.8, 0.75, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.85, 1.0, 1.7, 2.2)
#: Acquisition waves: January sales and Black Friday / Christmas.
_WAVE_MONTHS = (1.3, 1.0, 0.95, 0.95, 0.95, 0.9, 0.95, 0.9, 0.95, 1.0, 1.3, 1.15)
_FLAT_MONTHS = (1.0,) * 12


@dataclass(frozen=True)
class CustomerType:
    """Parameters of one planted customer type.

    Rates are per year; money in the shop's currency (GBP-like). Mixes are dicts of probabilities
    (normalised on use).
    """

    name: str
    label: str
    description: str
    acquisition_share: float
    rate_per_year: float  # mean of the gamma-distributed purchase rate
    rate_shape: float  # gamma shape (heterogeneity: smaller = more spread)
    dropout_beta: tuple[float, float]  # beta(a, b) of the per-purchase dropout probability
    lines_per_order: float  # mean lines per order (>= 1)
    quantity_mean: float  # mean units per line (>= 1)
    price_factor: float  # unit price = list price x factor (discount hunters < 1)
    categories: dict[str, float]
    channels: dict[str, float]
    months: tuple[float, ...]  # purchase intensity by month (Q4 seasonality)
    acquisition_months: tuple[float, ...]  # acquisition waves by month
    sessions_per_year: float  # browsing sessions without purchase
    pages_mean: float
    devices: dict[str, float]
    review_rate: float  # share of orders reviewed
    review_scores: tuple[float, float, float, float, float]  # probabilities of scores 1..5
    age: tuple[float, float]  # mean, standard deviation (years)
    genders: dict[str, float]
    income: dict[str, float]
    acquisition_channels: dict[str, float]


def _others(dominant: dict[str, float], total: float) -> dict[str, float]:
    """``dominant`` plus ``total`` spread evenly over the remaining non-food categories."""
    rest = [c for c in _CATEGORY_NAMES if c not in dominant and c != "food_drink"]
    return {**dominant, **{c: total / len(rest) for c in rest}}


#: The six planted types of the steady-state shop.
CUSTOMER_TYPES: tuple[CustomerType, ...] = (
    CustomerType(
        name="loyal_high_spender",
        label="Loyal high spenders",
        description="buy electronics and home goods on the web every month or two, big baskets, rarely churn",
        acquisition_share=0.035,
        rate_per_year=8.0,
        rate_shape=6.0,
        dropout_beta=(2.0, 78.0),
        lines_per_order=2.4,
        quantity_mean=1.3,
        price_factor=1.0,
        categories=_others({"electronics": 0.72, "books_general_interest": 0.1}, 0.18),
        channels={"web": 0.82, "app": 0.1, "store": 0.08},
        months=_RETAIL_MONTHS,
        acquisition_months=_FLAT_MONTHS,
        sessions_per_year=18.0,
        pages_mean=9.0,
        devices={"desktop": 0.72, "mobile": 0.18, "tablet": 0.1},
        review_rate=0.35,
        review_scores=(0.02, 0.02, 0.06, 0.3, 0.6),
        age=(48.0, 9.0),
        genders={"female": 0.45, "male": 0.52, "unknown": 0.03},
        income={"low": 0.03, "middle": 0.2, "high": 0.47, "very_high": 0.3},
        acquisition_channels={"organic": 0.35, "referral": 0.3, "paid_search": 0.2, "email": 0.15},
    ),
    CustomerType(
        name="frequent_small_basket",
        label="Frequent small-basket buyers",
        description="buy beauty products on the web twice a month or more, one or two cheap items",
        acquisition_share=0.05,
        rate_per_year=15.0,
        rate_shape=5.0,
        dropout_beta=(2.0, 68.0),
        lines_per_order=1.2,
        quantity_mean=1.2,
        price_factor=1.0,
        categories=_others({"health_beauty": 0.85}, 0.15),
        channels={"web": 0.85, "app": 0.15},
        months=_RETAIL_MONTHS,
        acquisition_months=_FLAT_MONTHS,
        sessions_per_year=45.0,
        pages_mean=3.0,
        devices={"mobile": 0.9, "tablet": 0.06, "desktop": 0.04},
        review_rate=0.06,
        review_scores=(0.04, 0.06, 0.2, 0.4, 0.3),
        age=(29.0, 6.0),
        genders={"female": 0.78, "male": 0.19, "unknown": 0.03},
        income={"low": 0.3, "middle": 0.5, "high": 0.17, "very_high": 0.03},
        acquisition_channels={"social": 0.6, "paid_search": 0.15, "organic": 0.15, "referral": 0.1},
    ),
    CustomerType(
        name="bargain_hunter",
        label="One-time bargain hunters",
        description="buy discounted fashion once on a marketplace during sales and rarely come back",
        acquisition_share=0.5,
        rate_per_year=0.6,
        rate_shape=2.0,
        dropout_beta=(6.0, 4.0),
        lines_per_order=1.5,
        quantity_mean=1.4,
        price_factor=0.7,
        categories=_others({"fashion_bags_accessories": 0.85}, 0.15),
        channels={"marketplace": 0.85, "web": 0.15},
        months=_RETAIL_MONTHS,
        acquisition_months=(1.4, 1.0, 0.9, 0.9, 0.9, 0.9, 1.1, 0.9, 0.9, 0.9, 1.4, 1.0),
        sessions_per_year=2.0,
        pages_mean=2.0,
        devices={"mobile": 0.75, "desktop": 0.2, "tablet": 0.05},
        review_rate=0.12,
        review_scores=(0.2, 0.18, 0.27, 0.2, 0.15),
        age=(25.0, 5.0),
        genders={"female": 0.58, "male": 0.38, "unknown": 0.04},
        income={"low": 0.55, "middle": 0.37, "high": 0.07, "very_high": 0.01},
        acquisition_channels={"marketplace": 0.55, "affiliate": 0.25, "social": 0.2},
    ),
    CustomerType(
        name="seasonal_gift_buyer",
        label="Seasonal gift buyers",
        description="buy toys and gifts in stores before Christmas, medium baskets, once or twice a year",
        acquisition_share=0.11,
        rate_per_year=1.6,
        rate_shape=4.0,
        dropout_beta=(2.0, 16.0),
        lines_per_order=2.6,
        quantity_mean=1.3,
        price_factor=1.0,
        categories=_others({"toys": 0.82}, 0.18),
        channels={"store": 0.72, "web": 0.28},
        months=_GIFT_MONTHS,
        acquisition_months=(0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.85, 1.0, 1.6, 2.0),
        sessions_per_year=4.0,
        pages_mean=5.0,
        devices={"desktop": 0.5, "mobile": 0.4, "tablet": 0.1},
        review_rate=0.2,
        review_scores=(0.03, 0.05, 0.12, 0.4, 0.4),
        age=(42.0, 8.0),
        genders={"female": 0.62, "male": 0.35, "unknown": 0.03},
        income={"low": 0.15, "middle": 0.5, "high": 0.28, "very_high": 0.07},
        acquisition_channels={"paid_search": 0.45, "email": 0.2, "organic": 0.25, "social": 0.1},
    ),
    CustomerType(
        name="occasional",
        label="Occasional buyers",
        description="buy housewares and garden goods on the web once or twice a year",
        acquisition_share=0.22,
        rate_per_year=1.4,
        rate_shape=3.0,
        dropout_beta=(2.0, 9.0),
        lines_per_order=2.0,
        quantity_mean=1.3,
        price_factor=1.0,
        categories=_others({"housewares": 0.65, "garden_tools": 0.2}, 0.15),
        channels={"web": 0.85, "store": 0.15},
        months=_RETAIL_MONTHS,
        acquisition_months=_WAVE_MONTHS,
        sessions_per_year=5.0,
        pages_mean=4.0,
        devices={"desktop": 0.6, "mobile": 0.3, "tablet": 0.1},
        review_rate=0.15,
        review_scores=(0.05, 0.07, 0.18, 0.4, 0.3),
        age=(54.0, 11.0),
        genders={"female": 0.55, "male": 0.42, "unknown": 0.03},
        income={"low": 0.2, "middle": 0.5, "high": 0.25, "very_high": 0.05},
        acquisition_channels={"organic": 0.4, "email": 0.3, "paid_search": 0.2, "referral": 0.1},
    ),
    CustomerType(
        name="lapsing_regular",
        label="Lapsing regulars",
        description="buy sports goods in stores almost monthly for a few months, then lapse",
        acquisition_share=0.095,
        rate_per_year=10.0,
        rate_shape=5.0,
        dropout_beta=(5.0, 30.0),
        lines_per_order=1.8,
        quantity_mean=1.3,
        price_factor=1.0,
        categories=_others({"sports_leisure": 0.82}, 0.18),
        channels={"store": 0.7, "app": 0.3},
        months=_RETAIL_MONTHS,
        acquisition_months=(1.3, 1.1, 1.0, 1.0, 1.0, 0.95, 0.9, 0.9, 1.0, 0.95, 0.9, 0.9),
        sessions_per_year=8.0,
        pages_mean=4.0,
        devices={"mobile": 0.65, "desktop": 0.3, "tablet": 0.05},
        review_rate=0.1,
        review_scores=(0.12, 0.15, 0.28, 0.3, 0.15),
        age=(34.0, 7.0),
        genders={"female": 0.3, "male": 0.67, "unknown": 0.03},
        income={"low": 0.2, "middle": 0.55, "high": 0.2, "very_high": 0.05},
        acquisition_channels={"paid_search": 0.35, "social": 0.35, "organic": 0.2, "referral": 0.1},
    ),
)

#: The behaviour group that appears at ``shift_date``: grocery delivery subscribers. Its demographics
#: and acquisition are those of the customers who take it up; its dropout is a monthly cancellation.
SUBSCRIBER = CustomerType(
    name="delivery_subscriber",
    label="Delivery subscribers",
    description="since the subscription launch, buy food and drink in the app about twice a month",
    acquisition_share=0.0,
    rate_per_year=26.0,
    rate_shape=12.0,
    dropout_beta=(1.0, 1.0),  # unused: subscribers cancel at SUBSCRIPTION_MONTHLY_CHURN
    lines_per_order=1.4,
    quantity_mean=1.6,
    price_factor=1.0,
    categories={"food_drink": 0.95, "health_beauty": 0.05},
    channels={"app": 0.9, "web": 0.1},
    months=_FLAT_MONTHS,
    acquisition_months=_FLAT_MONTHS,
    sessions_per_year=12.0,
    pages_mean=2.5,
    devices={"mobile": 0.85, "desktop": 0.1, "tablet": 0.05},
    review_rate=0.05,
    review_scores=(0.05, 0.05, 0.15, 0.4, 0.35),
    age=(40.0, 12.0),
    genders={"female": 0.55, "male": 0.42, "unknown": 0.03},
    income={"low": 0.3, "middle": 0.5, "high": 0.17, "very_high": 0.03},
    acquisition_channels={"email": 1.0},
)
#: Types whose active customers are offered the subscription at ``shift_date``.
SHIFT_ELIGIBLE_TYPES = ("bargain_hunter", "occasional")
#: Monthly probability that a subscriber cancels.
SUBSCRIPTION_MONTHLY_CHURN = 0.03
#: Two more planted types, drawn only when ``make_demo_shop(types=...)`` asks for more than six.
EXTRA_CUSTOMER_TYPES: tuple[CustomerType, ...] = (
    CustomerType(
        name="book_club_member",
        label="Book club members",
        description="buy books in the app about every six weeks, one or two cheap titles, stay for years",
        acquisition_share=0.06,
        rate_per_year=8.0,
        rate_shape=6.0,
        dropout_beta=(2.0, 60.0),
        lines_per_order=1.3,
        quantity_mean=1.1,
        price_factor=1.0,
        categories=_others({"books_general_interest": 0.88}, 0.12),
        channels={"app": 0.88, "web": 0.12},
        months=_FLAT_MONTHS,
        acquisition_months=_FLAT_MONTHS,
        sessions_per_year=20.0,
        pages_mean=6.0,
        devices={"tablet": 0.5, "mobile": 0.4, "desktop": 0.1},
        review_rate=0.4,
        review_scores=(0.02, 0.04, 0.14, 0.4, 0.4),
        age=(58.0, 10.0),
        genders={"female": 0.64, "male": 0.33, "unknown": 0.03},
        income={"low": 0.15, "middle": 0.5, "high": 0.28, "very_high": 0.07},
        acquisition_channels={"email": 0.4, "organic": 0.35, "referral": 0.25},
    ),
    CustomerType(
        name="garden_project_buyer",
        label="Garden project buyers",
        description="buy garden tools in bulk on a marketplace in spring, two or three big orders a year",
        acquisition_share=0.08,
        rate_per_year=2.5,
        rate_shape=4.0,
        dropout_beta=(2.0, 14.0),
        lines_per_order=3.5,
        quantity_mean=3.0,
        price_factor=1.0,
        categories=_others({"garden_tools": 0.9}, 0.1),
        channels={"marketplace": 0.55, "store": 0.45},
        months=(0.6, 0.8, 1.6, 2.0, 1.8, 1.2, 0.9, 0.7, 0.8, 0.7, 0.5, 0.4),
        acquisition_months=(0.6, 0.8, 1.6, 2.0, 1.8, 1.2, 0.9, 0.7, 0.8, 0.7, 0.5, 0.4),
        sessions_per_year=6.0,
        pages_mean=7.0,
        devices={"desktop": 0.55, "mobile": 0.4, "tablet": 0.05},
        review_rate=0.25,
        review_scores=(0.05, 0.05, 0.2, 0.4, 0.3),
        age=(50.0, 9.0),
        genders={"female": 0.4, "male": 0.57, "unknown": 0.03},
        income={"low": 0.1, "middle": 0.45, "high": 0.35, "very_high": 0.1},
        acquisition_channels={"paid_search": 0.5, "marketplace": 0.3, "organic": 0.2},
    ),
)
_ALL_TYPES: tuple[CustomerType, ...] = (*CUSTOMER_TYPES, SUBSCRIBER, *EXTRA_CUSTOMER_TYPES)
#: Order in which ``make_demo_shop(types=T)`` plants types: the first T of these (codes sorted, so
#: ``types=6`` is the default shop).
TYPE_ORDER: tuple[str, ...] = (
    "bargain_hunter",
    "occasional",
    "loyal_high_spender",
    "frequent_small_basket",
    "seasonal_gift_buyer",
    "lapsing_regular",
    "book_club_member",
    "garden_project_buyer",
)
_SUBSCRIBER_CODE = len(CUSTOMER_TYPES)

#: Mess rates (probabilities per purchase line or per order; see the module docstring).
MESS_RATES: dict[str, float] = {
    "cancelled_line": 0.02,  # purchase lines later cancelled (C invoice)
    "partial_cancel": 0.25,  # share of cancellations that return only part of the quantity
    "duplicate_line": 0.009,  # purchase lines written twice
    "zero_price_line": 0.003,  # purchase lines with a zero price (free samples, data errors)
    "guest_orders": 0.03,  # orders without a customer id, per customer order
    "postage_foreign": 0.3,  # foreign orders with a POST line
    "manual_line": 0.002,  # orders with an M (manual) line
    "bank_charges": 0.0008,  # orders with a BANK CHARGES line
    "gift_voucher": 0.003,  # orders with a gift voucher line
    "amazon_fee": 0.0005,  # AMAZONFEE lines (no customer id), per customer order
}

# stream names: one independent random stream per kind of draw (order matters: never reorder, append)
_STREAMS = (
    "types",
    "acquisition",
    "rates",
    "dropout",
    "repeats",
    "times",
    "demographics",
    "lines",
    "sessions",
    "reviews",
    "messes",
    "guests",
    "uptake",
    "sub_orders",
    "sub_lines",
    "sub_sessions",
    "sub_reviews",
    "sub_messes",
)
_CATALOGUE_STREAM = 1_000_000  # spawn key of the product catalogue (shared by every block)


# --------------------------------------------------------------------------- result
@dataclass
class DemoShop:
    """A generated shop: the tables, the ground truth and the parameters that made it.

    Attributes
    ----------
    transactions
        Canonical order lines (see :mod:`segkit.schema`), with the planted messes, sorted by date.
    customers
        One row per customer: ``customer_id``, ``signup_date``, ``age`` (years), ``gender``,
        ``income_band``, ``region``, ``acquisition_channel``.
    products
        ``product_id``, ``category``, ``list_price``, ``description``.
    sessions
        Browsing log: ``customer_id``, ``session_start``, ``pages_viewed``, ``category_viewed``,
        ``device``, ``converted`` (the session ended in an order).
    reviews
        ``order_id``, ``customer_id``, ``score`` (1-5), ``review_date``.
    truth
        ``customer_id``, ``type`` (the type at the end of the period: subscribers are
        ``delivery_subscriber``), ``type_before_shift``, ``shifted`` (bool). Never used by the pipeline.
    shift_date
        Date of the behaviour shift, or None when ``shift=False``.
    params
        The arguments and derived settings (``start``, ``end``, ``seed``, ``n_customers``...).
    messes
        Planted mess rows by the reason the cleaning gives them (``missing_customer_id``,
        ``non_product``, ``duplicate``, ``cancellation``, ``cancelled_purchase``,
        ``non_positive_price``), plus ``kept``.
    """

    transactions: pd.DataFrame
    customers: pd.DataFrame
    products: pd.DataFrame
    sessions: pd.DataFrame
    reviews: pd.DataFrame
    truth: pd.DataFrame
    shift_date: pd.Timestamp | None
    params: dict[str, Any] = field(default_factory=dict)
    messes: dict[str, int] = field(default_factory=dict)

    @property
    def types(self) -> pd.DataFrame:
        """The planted types: name, label, description and their share of customers."""
        shares = self.truth["type"].value_counts(normalize=True)
        rows = [
            {"type": t.name, "label": t.label, "description": t.description, "share": shares.get(t.name, 0.0)}
            for t in _ALL_TYPES
            if t.name in shares.index
        ]
        return pd.DataFrame(rows)

    def to_dataset(self):
        """The shop as a :class:`segkit.io.Dataset` (transactions and every side table)."""
        from segkit.io import Dataset

        return Dataset(
            transactions=self.transactions,
            customers=self.customers,
            sessions=self.sessions,
            reviews=self.reviews,
            products=self.products,
            source="demo",
            layout="generic",
        )

    def __repr__(self) -> str:
        shift = self.shift_date.date() if self.shift_date is not None else None
        return (
            f"DemoShop({len(self.truth):,} customers, {len(self.transactions):,} lines, "
            f"{self.params.get('start')} to {self.params.get('end')}, shift_date={shift})"
        )


# --------------------------------------------------------------------------- calendar and parameters
@dataclass(frozen=True)
class _Calendar:
    """Days are float offsets from ``start`` (day 0 = ``start`` at midnight)."""

    start: pd.Timestamp
    end: pd.Timestamp
    period_days: int
    history_days: int
    shift_day: int | None
    grid_edges: np.ndarray  # day offsets of the grid's day edges, -history_days .. period_days
    grid_months: np.ndarray  # month (0..11) of each grid day

    @property
    def shift_date(self) -> pd.Timestamp | None:
        return None if self.shift_day is None else self.start + pd.Timedelta(days=self.shift_day)


def _calendar(start: Any, months: int, history_years: float, shift: bool, shift_date: Any) -> _Calendar:
    try:
        start_ts = pd.Timestamp(start).normalize()
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"start={start!r} is not a date", column="start") from exc
    if not isinstance(months, int | np.integer) or months < 1:
        raise ParameterError(f"months must be a positive integer, got {months!r}", column="months")
    if not (history_years >= 0):
        raise ParameterError(f"history_years must be >= 0, got {history_years!r}", column="history_years")
    end_ts = start_ts + pd.DateOffset(months=int(months))
    period_days = int((end_ts - start_ts).days)
    history_days = int(round(history_years * _YEAR_DAYS))
    shift_day = None
    if shift:
        if shift_date is None:
            shift_ts = start_ts + pd.DateOffset(months=max(12, int(round(2 * months / 3))))
        else:
            try:
                shift_ts = pd.Timestamp(shift_date).normalize()
            except (ValueError, TypeError) as exc:
                raise ParameterError(f"shift_date={shift_date!r} is not a date", column="shift_date") from exc
        if shift_ts < start_ts + pd.DateOffset(months=12) or shift_ts > end_ts - pd.Timedelta(days=60):
            raise ParameterError(
                f"the shift date {shift_ts.date()} must be at least 12 months after start and 60 days "
                f"before the end ({end_ts.date()})",
                column="shift_date",
                hint="use months >= 15, or shift=False",
            )
        shift_day = int((shift_ts - start_ts).days)
    edges = np.arange(-history_days, period_days + 1, dtype=np.float64)
    grid_months = (start_ts + pd.to_timedelta(edges[:-1], unit="D")).month.to_numpy() - 1
    return _Calendar(start_ts, end_ts, period_days, history_days, shift_day, edges, grid_months)


@dataclass(frozen=True)
class _TypeArrays:
    """Per-type parameters as arrays indexed by type code (the subscriber is the last code)."""

    rate_mean: np.ndarray
    rate_shape: np.ndarray
    dropout_a: np.ndarray
    dropout_b: np.ndarray
    lines_per_order: np.ndarray
    quantity_mean: np.ndarray
    price_factor: np.ndarray
    sessions_per_year: np.ndarray
    pages_mean: np.ndarray
    review_rate: np.ndarray
    age_mean: np.ndarray
    age_sd: np.ndarray
    categories: np.ndarray  # cumulative probabilities, (types, categories)
    channels: np.ndarray
    devices: np.ndarray
    scores: np.ndarray
    genders: np.ndarray
    income: np.ndarray
    acquisition_channels: np.ndarray


def _cumulative(mixes: list[dict[str, float]], options: tuple[str, ...]) -> np.ndarray:
    probs = np.array([[mix.get(o, 0.0) for o in options] for mix in mixes], dtype=np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    return cum


def _type_arrays() -> _TypeArrays:
    types = _ALL_TYPES

    def col(attr: str) -> np.ndarray:
        return np.array([getattr(t, attr) for t in types], dtype=np.float64)

    return _TypeArrays(
        rate_mean=col("rate_per_year"),
        rate_shape=col("rate_shape"),
        dropout_a=np.array([t.dropout_beta[0] for t in types]),
        dropout_b=np.array([t.dropout_beta[1] for t in types]),
        lines_per_order=col("lines_per_order"),
        quantity_mean=col("quantity_mean"),
        price_factor=col("price_factor"),
        sessions_per_year=col("sessions_per_year"),
        pages_mean=col("pages_mean"),
        review_rate=col("review_rate"),
        age_mean=np.array([t.age[0] for t in types]),
        age_sd=np.array([t.age[1] for t in types]),
        categories=_cumulative([t.categories for t in types], _CATEGORY_NAMES),
        channels=_cumulative([t.channels for t in types], CHANNELS),
        devices=_cumulative([t.devices for t in types], DEVICES),
        scores=_cumulative([dict(zip("12345", t.review_scores, strict=True)) for t in types], tuple("12345")),
        genders=_cumulative([t.genders for t in types], GENDERS),
        income=_cumulative([t.income for t in types], INCOME_BANDS),
        acquisition_channels=_cumulative([t.acquisition_channels for t in types], ACQUISITION_CHANNELS),
    )


_TYPES = _type_arrays()


def _choose(rng: np.random.Generator, cumulative: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One categorical draw per element of ``rows`` (row index into the cumulative matrix)."""
    u = rng.random(len(rows))
    return (u[:, None] >= cumulative[rows]).sum(axis=1).astype(np.int64)


def _month_profile(cal: _Calendar, months: tuple[float, ...]) -> np.ndarray:
    """Daily intensity of a month profile, normalised to a mean of 1 over a year."""
    profile = np.asarray(months, dtype=np.float64)
    days_in_month = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    profile = profile / (profile @ days_in_month / days_in_month.sum())
    return profile[cal.grid_months]


def _operational_clock(cal: _Calendar, months: tuple[float, ...]) -> np.ndarray:
    """Cumulative seasonal intensity (in years) at the grid edges: a time change for Poisson draws."""
    return np.concatenate([[0.0], np.cumsum(_month_profile(cal, months)) / _YEAR_DAYS])


def _group_starts(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def _within_group_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` restarting at each group (groups are consecutive runs)."""
    total = np.cumsum(values)
    before = np.concatenate([[0.0], total])[_group_starts(counts)]
    return total - np.repeat(before, counts)


def _streams(seed: int, block: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(seed, spawn_key=(block,)).spawn(len(_STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(_STREAMS, children, strict=True)}


# --------------------------------------------------------------------------- catalogue
#: Non-product stock codes written into the log (Online Retail spellings) and their descriptions.
NON_PRODUCT_CODES: dict[str, str] = {
    "POST": "POSTAGE",
    "M": "Manual",
    "BANK CHARGES": "Bank Charges",
    "AMAZONFEE": "AMAZON FEE",
    "gift_0001_10": "Dotcom Gift Voucher £10.00",
    "gift_0001_20": "Dotcom Gift Voucher £20.00",
    "gift_0001_30": "Dotcom Gift Voucher £30.00",
    "gift_0001_50": "Dotcom Gift Voucher £50.00",
}
_GIFT_VALUES = np.array([10.0, 20.0, 30.0, 50.0])


@dataclass(frozen=True)
class _Catalogue:
    product_ids: np.ndarray  # str, products then non-product codes
    category: np.ndarray  # category code per product (-1 for non-product codes)
    list_price: np.ndarray
    description: np.ndarray
    popularity: np.ndarray  # category code + within-category cumulative popularity (see sample)
    n_products: int

    def code(self, name: str) -> int:
        return self.n_products + list(NON_PRODUCT_CODES).index(name)

    def sample(self, rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
        """One product per element of ``category``, by heavy-tailed popularity inside the category."""
        u = rng.random(len(category))
        return np.searchsorted(self.popularity, category + u, side="right").astype(np.int64)


def _make_catalogue(seed: int) -> _Catalogue:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_CATALOGUE_STREAM,)))
    sizes = np.array([spec[1] for spec in CATEGORIES.values()])
    category = np.repeat(np.arange(len(sizes)), sizes)
    medians = np.array([spec[2] for spec in CATEGORIES.values()])[category]
    sigmas = np.array([spec[3] for spec in CATEGORIES.values()])[category]
    raw = medians * np.exp(sigmas * rng.standard_normal(len(category)))
    list_price = np.maximum(np.round(raw) - 0.01, 0.49)  # price points like 11.99
    # popularity: Zipf-like weights over a random ranking inside each category
    rank = np.concatenate([rng.permutation(n) for n in sizes])
    weight = 1.0 / (rank + 3.0) ** 1.1
    within = _within_group_cumsum(weight, sizes) / np.repeat(
        np.add.reduceat(weight, _group_starts(sizes)), sizes
    )
    within[_group_starts(sizes) + sizes - 1] = 1.0
    nouns = np.concatenate(
        [
            np.asarray(_NOUNS[c])[rng.integers(0, len(_NOUNS[c]), n)]
            for c, n in zip(CATEGORIES, sizes, strict=True)
        ]
    )
    adjectives = np.asarray(_ADJECTIVES)[rng.integers(0, len(_ADJECTIVES), len(category))]
    description = np.char.add(np.char.add(adjectives, " "), nouns)
    product_ids = (21_000 + np.arange(len(category)) * 7 + rng.integers(0, 7, len(category))).astype(str)
    n_np = len(NON_PRODUCT_CODES)
    return _Catalogue(
        product_ids=np.concatenate([product_ids, np.asarray(list(NON_PRODUCT_CODES))]),
        category=np.concatenate([category, np.full(n_np, -1)]),
        list_price=np.concatenate([list_price, np.full(n_np, np.nan)]),
        description=np.concatenate(
            [description.astype(object), np.asarray(list(NON_PRODUCT_CODES.values()))]
        ),
        popularity=category + within,
        n_products=len(category),
    )


# --------------------------------------------------------------------------- population (base behaviour)
@dataclass
class _Population:
    """One block of potential customers and their base (unshifted) orders inside the period."""

    type_code: np.ndarray
    acq_day: np.ndarray  # day of the first order (may be before start)
    last_day: np.ndarray  # day of the last base order, any time (for browsing spans)
    order_cust: np.ndarray  # population index of each in-period base order (sorted by customer, time)
    order_minute: np.ndarray  # minutes since start
    order_first: np.ndarray  # the order is the customer's first (acquisition) order
    active: np.ndarray  # at least one base order in the period
    active_at_shift: np.ndarray  # at least one base order in the 365 days before the shift


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Minutes after midnight: a daytime peak around 14:00."""
    hours = np.mod(rng.normal(14.0, 3.6, n), 24.0)
    return np.minimum(np.floor(hours * 60.0), 1439.0).astype(np.int64)


def _to_minutes(day: np.ndarray, time_of_day: np.ndarray) -> np.ndarray:
    return np.floor(day).astype(np.int64) * 1440 + time_of_day


def _draw_population(
    cal: _Calendar, streams: dict[str, np.random.Generator], planted: tuple[int, ...] | None = None
) -> _Population:
    n = BLOCK_SIZE
    planted = _DEFAULT_PLANTED if planted is None else planted
    shares = np.array([_ALL_TYPES[code].acquisition_share for code in planted])
    type_code = np.asarray(planted)[streams["types"].choice(len(planted), size=n, p=shares / shares.sum())]

    # acquisition (first order) over the history and the period, with each type's yearly waves
    u = streams["acquisition"].random(n)
    acq_day = np.empty(n)
    clock_acq = np.empty(n)
    clock_end = np.empty(n)
    clocks = {code: _operational_clock(cal, _ALL_TYPES[code].months) for code in planted}
    for code in planted:
        ctype = _ALL_TYPES[code]
        mask = type_code == code
        cdf = np.concatenate([[0.0], np.cumsum(_month_profile(cal, ctype.acquisition_months))])
        acq_day[mask] = np.interp(u[mask], cdf / cdf[-1], cal.grid_edges)
        clock_acq[mask] = np.interp(acq_day[mask], cal.grid_edges, clocks[code])
        clock_end[mask] = clocks[code][-1]

    # BG/NBD-like: gamma rates, beta dropout after each purchase; Poisson on the seasonal clock
    rate = (
        streams["rates"].standard_gamma(_TYPES.rate_shape[type_code])
        * (_TYPES.rate_mean / _TYPES.rate_shape)[type_code]
    )
    dropout = streams["dropout"].beta(_TYPES.dropout_a[type_code], _TYPES.dropout_b[type_code])
    rng = streams["repeats"]
    purchases_until_dropout = rng.geometric(dropout)
    potential = rng.poisson(rate * (clock_end - clock_acq))
    n_repeat = np.minimum(potential, purchases_until_dropout - 1)
    rest = rng.standard_gamma(potential + 1 - n_repeat)
    # the first n_repeat order statistics of `potential` uniforms, by exponential spacings
    gaps = streams["times"].standard_exponential(int(n_repeat.sum()))
    owner = np.repeat(np.arange(n), n_repeat)
    spacing = _within_group_cumsum(gaps, n_repeat)
    total = np.bincount(owner, gaps, minlength=n)
    clock_time = clock_acq[owner] + spacing / (total + rest)[owner] * (clock_end - clock_acq)[owner]
    repeat_day = np.empty(len(owner))
    owner_type = type_code[owner]
    for code in planted:
        mask = owner_type == code
        repeat_day[mask] = np.interp(clock_time[mask], clocks[code], cal.grid_edges)

    last_day = acq_day.copy()
    has_repeat = n_repeat > 0
    last_day[has_repeat] = repeat_day[_group_starts(n_repeat)[has_repeat] + n_repeat[has_repeat] - 1]

    day = np.concatenate([acq_day, repeat_day])
    cust = np.concatenate([np.arange(n), owner])
    first = np.concatenate([np.ones(n, dtype=bool), np.zeros(len(owner), dtype=bool)])
    in_period = (day >= 0) & (day < cal.period_days)
    day, cust, first = day[in_period], cust[in_period], first[in_period]
    order = np.lexsort((day, cust))
    day, cust, first = day[order], cust[order], first[order]
    minute = _to_minutes(day, _time_of_day(streams["times"], len(day)))

    active = np.bincount(cust, minlength=n) > 0
    if cal.shift_day is not None:
        window = (day >= cal.shift_day - 365) & (day < cal.shift_day)
        active_at_shift = np.bincount(cust[window], minlength=n) > 0
    else:
        active_at_shift = np.zeros(n, dtype=bool)
    return _Population(type_code, acq_day, last_day, cust, minute, first, active, active_at_shift)


# --------------------------------------------------------------------------- orders, lines, sessions, reviews
@dataclass
class _Orders:
    """Orders of one source (base or subscription) for the kept customers of a block."""

    cust: np.ndarray  # local customer index (0..n_kept-1)
    type_code: np.ndarray
    minute: np.ndarray
    first: np.ndarray
    key: np.ndarray  # unique order key


@dataclass
class _Lines:
    order: np.ndarray  # index into the orders
    product: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray
    channel: np.ndarray  # per order


def _draw_lines(rng: np.random.Generator, orders: _Orders, catalogue: _Catalogue) -> _Lines:
    """Order lines: count, category (type mix), product (popularity), quantity, price; channel per order."""
    n_orders = len(orders.minute)
    lines_per_order = 1 + rng.poisson(_TYPES.lines_per_order[orders.type_code] - 1.0)
    line_order = np.repeat(np.arange(n_orders), lines_per_order)
    line_type = orders.type_code[line_order]
    category = _choose(rng, _TYPES.categories, line_type)
    product = catalogue.sample(rng, category)
    quantity = 1.0 + rng.poisson(_TYPES.quantity_mean[line_type] - 1.0)
    channel = _choose(rng, _TYPES.channels, orders.type_code)
    # the same product twice in one order becomes one line with the summed quantity
    key = line_order * (catalogue.n_products + 1) + product
    _, first_index, inverse = np.unique(key, return_index=True, return_inverse=True)
    quantity = np.bincount(inverse, quantity).astype(np.float64)
    line_order, product = line_order[first_index], product[first_index]
    factor = _TYPES.price_factor[orders.type_code[line_order]]
    unit_price = np.maximum(np.round(catalogue.list_price[product] * factor, 2), 0.01)
    return _Lines(line_order, product, quantity, unit_price, channel)


@dataclass
class _Sessions:
    cust: np.ndarray
    minute: np.ndarray
    pages: np.ndarray
    category: np.ndarray
    device: np.ndarray
    converted: np.ndarray
    order: np.ndarray  # index of the order a converted session led to, else -1


def _draw_sessions(
    rng: np.random.Generator,
    orders: _Orders,
    lines: _Lines,
    span_start: np.ndarray,
    span_end: np.ndarray,
    type_code: np.ndarray,
    catalogue: _Catalogue,
) -> _Sessions:
    """Browsing sessions: one before each web/app order, plus sessions without a purchase.

    Sessions without a purchase fall uniformly in each customer's ``[span_start, span_end)`` (days)
    at the type's yearly browsing rate.
    """
    online = np.isin(lines.channel, [CHANNELS.index("web"), CHANNELS.index("app")])
    # converted sessions
    n_orders = len(orders.minute)
    lead = rng.integers(2, 40, n_orders)
    pages_conv = 2 + rng.poisson(_TYPES.pages_mean[orders.type_code])
    device_conv = _choose(rng, _TYPES.devices, orders.type_code)
    device_conv = np.where(lines.channel == CHANNELS.index("app"), DEVICES.index("mobile"), device_conv)
    first_line = np.searchsorted(lines.order, np.arange(n_orders))
    category_conv = catalogue.category[lines.product[np.minimum(first_line, len(lines.order) - 1)]]
    # sessions without a purchase
    span = np.maximum(span_end - span_start, 0.0)
    n_browse = rng.poisson(_TYPES.sessions_per_year[type_code] * span / _YEAR_DAYS)
    owner = np.repeat(np.arange(len(span)), n_browse)
    day = span_start[owner] + rng.random(len(owner)) * span[owner]
    minute_browse = _to_minutes(day, _time_of_day(rng, len(owner)))
    owner_type = type_code[owner]
    pages_browse = 1 + rng.poisson(_TYPES.pages_mean[owner_type] * 0.6)
    category_browse = _choose(rng, _TYPES.categories, owner_type)
    device_browse = _choose(rng, _TYPES.devices, owner_type)
    keep = online & (orders.minute - lead >= 0)
    order_index = np.arange(n_orders)[keep]
    return _Sessions(
        cust=np.concatenate([orders.cust[keep], owner]),
        minute=np.concatenate([orders.minute[keep] - lead[keep], minute_browse]),
        pages=np.concatenate([pages_conv[keep], pages_browse]),
        category=np.concatenate([category_conv[keep], category_browse]),
        device=np.concatenate([device_conv[keep], device_browse]),
        converted=np.concatenate([np.ones(len(order_index), bool), np.zeros(len(owner), bool)]),
        order=np.concatenate([order_index, np.full(len(owner), -1)]),
    )


@dataclass
class _Reviews:
    order: np.ndarray  # index into the orders
    score: np.ndarray
    minute: np.ndarray


def _draw_reviews(rng: np.random.Generator, orders: _Orders, period_minutes: int) -> _Reviews:
    """A review for a share of orders (type's rate), 1-30 days after the order, inside the period."""
    n = len(orders.minute)
    reviewed = rng.random(n) < _TYPES.review_rate[orders.type_code]
    score = 1 + _choose(rng, _TYPES.scores, orders.type_code)
    delay = np.floor((1.0 + rng.gamma(2.0, 3.0, n)) * 1440.0).astype(np.int64)
    minute = orders.minute + delay
    keep = reviewed & (minute < period_minutes)
    return _Reviews(np.flatnonzero(keep), score[keep], minute[keep])


# --------------------------------------------------------------------------- messes
#: The cleaning reasons planted rows carry (DESIGN.md "Cleaning"), in the cleaning's order: every
#: reason but ``outlier`` (that rule is off by default, and the shop plants no outliers).
REASONS: tuple[str, ...] = tuple(reason for reason in CLEANING_REASONS if reason != "outlier")
_R = {name: code for code, name in enumerate(REASONS)}
_INT_MAX = np.iinfo(np.int64).max


@dataclass
class _Rows:
    """Transaction rows of one source, before ids become strings."""

    cust: np.ndarray  # local customer index, -1 = no customer id
    key: np.ndarray  # order key (cancellation invoices have their own)
    minute: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray
    channel: np.ndarray
    reason: np.ndarray  # planted cleaning reason code
    order: np.ndarray  # index of the (original) order in its source, -1 for guest rows
    line: np.ndarray  # index of the purchase line a row copies or cancels, -1 otherwise
    cancel: np.ndarray  # row is a cancellation

    @classmethod
    def concat(cls, parts: list[_Rows]) -> _Rows:
        return cls(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__})

    def take(self, index: np.ndarray) -> _Rows:
        return _Rows(**{f: getattr(self, f)[index] for f in self.__dataclass_fields__})


def _next_same_purchase(cust: np.ndarray, product: np.ndarray, minute: np.ndarray) -> np.ndarray:
    """Minute of the next line of the same customer and product (int max when none)."""
    order = np.lexsort((minute, product, cust))
    same = (cust[order][1:] == cust[order][:-1]) & (product[order][1:] == product[order][:-1])
    following = np.full(len(cust), _INT_MAX, dtype=np.int64)
    following[order[:-1]] = np.where(same, minute[order][1:], _INT_MAX)
    return following


def _order_rows(
    rng: np.random.Generator,
    orders: _Orders,
    lines: _Lines,
    foreign: np.ndarray,
    cancel_keys: np.ndarray,
    period_minutes: int,
    catalogue: _Catalogue,
) -> _Rows:
    """The rows of customer orders, with cancellations, duplicates, zero prices and non-product lines.

    Every draw has a fixed size (per line or per order), so the rows of an order never depend on
    which other orders exist. A line is cancelled only when the customer buys the same product
    again after the cancellation (or never), so the cleaning nets it against this very line.
    """
    n_lines, n_orders = len(lines.order), len(orders.minute)
    delay = np.floor((0.05 + rng.gamma(1.2, 2.5, n_orders)) * 1440.0).astype(np.int64)
    u_cancel, u_partial, u_returned, u_dup, u_zero = rng.random((5, n_lines))
    u_post, u_manual, u_bank, u_gift = rng.random((4, n_orders))
    post_price = np.array([18.0, 28.0, 40.0])[rng.integers(0, 3, n_orders)]
    manual_price = np.round(np.exp(rng.normal(1.5, 1.0, n_orders)), 2)
    gift_choice = rng.integers(0, len(_GIFT_VALUES), n_orders)

    line_cust = orders.cust[lines.order]
    line_minute = orders.minute[lines.order]
    cancel_minute = line_minute + delay[lines.order]
    can_cancel = (_next_same_purchase(line_cust, lines.product, line_minute) > cancel_minute) & (
        cancel_minute < period_minutes
    )
    cancelled = can_cancel & (u_cancel < MESS_RATES["cancelled_line"])
    partial = cancelled & (u_partial < MESS_RATES["partial_cancel"]) & (lines.quantity > 1)
    returned = np.where(partial, 1.0 + np.floor(u_returned * (lines.quantity - 1.0)), lines.quantity)
    duplicated = ~cancelled & (u_dup < MESS_RATES["duplicate_line"])
    zero = ~cancelled & ~duplicated & (u_zero < MESS_RATES["zero_price_line"])

    reason = np.full(n_lines, _R["kept"])
    reason[cancelled & ~partial] = _R["cancelled_purchase"]
    reason[zero] = _R["zero_amount"]  # kept by the cleaning under its own reason
    line_index = np.arange(n_lines)
    purchase = _Rows(
        cust=line_cust,
        key=orders.key[lines.order],
        minute=line_minute,
        product=lines.product,
        quantity=lines.quantity,
        unit_price=np.where(zero, 0.0, lines.unit_price),
        channel=lines.channel[lines.order],
        reason=reason,
        order=lines.order,
        line=line_index,
        cancel=np.zeros(n_lines, dtype=bool),
    )
    duplicates = purchase.take(np.flatnonzero(duplicated))
    duplicates.reason = np.full(len(duplicates.key), _R["duplicate"])
    cancellations = purchase.take(np.flatnonzero(cancelled))
    cancellations.key = cancel_keys[cancellations.order]
    cancellations.minute = cancel_minute[cancelled]
    cancellations.quantity = -returned[cancelled]
    cancellations.reason = np.full(len(cancellations.key), _R["cancellation"])
    cancellations.cancel = np.ones(len(cancellations.key), dtype=bool)

    # non-product lines added to orders: postage on foreign orders, manual lines, bank charges, vouchers
    flags = [
        (foreign[orders.cust] & (u_post < MESS_RATES["postage_foreign"]), catalogue.code("POST"), post_price),
        (u_manual < MESS_RATES["manual_line"], catalogue.code("M"), manual_price),
        (u_bank < MESS_RATES["bank_charges"], catalogue.code("BANK CHARGES"), np.full(n_orders, 15.0)),
        (
            u_gift < MESS_RATES["gift_voucher"],
            catalogue.code("gift_0001_10") + gift_choice,
            _GIFT_VALUES[gift_choice],
        ),
    ]
    extra = []
    for flagged, code, price in flags:
        index = np.flatnonzero(flagged)
        extra.append(
            _Rows(
                cust=orders.cust[index],
                key=orders.key[index],
                minute=orders.minute[index],
                product=np.broadcast_to(code, n_orders)[index].astype(np.int64),
                quantity=np.ones(len(index)),
                unit_price=price[index],
                channel=lines.channel[index],
                reason=np.full(len(index), _R["non_product"]),
                order=index,
                line=np.full(len(index), -1),
                cancel=np.zeros(len(index), dtype=bool),
            )
        )
    return _Rows.concat([purchase, duplicates, *extra, cancellations])


def _guest_rows(
    rng: np.random.Generator, n_customer_orders: int, key_base: int, cal: _Calendar, catalogue: _Catalogue
) -> _Rows:
    """Orders without a customer id (guest checkouts) and AMAZONFEE lines."""
    n_guest = int(rng.poisson(MESS_RATES["guest_orders"] * n_customer_orders))
    n_fee = int(rng.poisson(MESS_RATES["amazon_fee"] * n_customer_orders))
    day = rng.random(n_guest + n_fee) * cal.period_days
    minute = _to_minutes(day, _time_of_day(rng, n_guest + n_fee))
    lines_per_order = 1 + rng.poisson(1.5, n_guest)
    owner = np.repeat(np.arange(n_guest), lines_per_order)
    product = rng.integers(0, catalogue.n_products, len(owner))
    # one line per product and order
    _, first_index = np.unique(owner * (catalogue.n_products + 1) + product, return_index=True)
    owner, product = owner[first_index], product[first_index]
    quantity = 1.0 + rng.poisson(1.0, len(owner))
    channel = np.where(rng.random(n_guest) < 0.7, CHANNELS.index("web"), CHANNELS.index("store"))
    fee_price = np.round(np.exp(rng.normal(5.5, 1.0, n_fee)), 2)
    n_rows = len(owner) + n_fee
    fee_owner = n_guest + np.arange(n_fee)
    return _Rows(
        cust=np.full(n_rows, -1),
        key=key_base + np.concatenate([owner, fee_owner]),
        minute=np.concatenate([minute[owner], minute[fee_owner]]),
        product=np.concatenate([product, np.full(n_fee, catalogue.code("AMAZONFEE"))]),
        quantity=np.concatenate([quantity, np.ones(n_fee)]),
        unit_price=np.concatenate([catalogue.list_price[product], fee_price]),
        channel=np.concatenate([channel[owner], np.full(n_fee, CHANNELS.index("web"))]),
        reason=np.full(n_rows, _R["missing_customer_id"]),
        order=np.full(n_rows, -1),
        line=np.full(n_rows, -1),
        cancel=np.zeros(n_rows, dtype=bool),
    )


# --------------------------------------------------------------------------- one block
_SOURCE_BITS = 36
_BLOCK_BITS = 40
_SOURCES = {"base": 0, "subscription": 1, "guest": 2, "base_cancel": 3, "subscription_cancel": 4}


def _keys(block: int, source: str, n: int) -> np.ndarray:
    return (np.int64(block) << _BLOCK_BITS) + (np.int64(_SOURCES[source]) << _SOURCE_BITS) + np.arange(n)


@dataclass
class _Block:
    """Everything generated for the kept customers of one population block (numeric codes)."""

    rows: _Rows  # cust holds customer numbers (-1 = none)
    customers: dict[str, np.ndarray]
    sessions: _Sessions  # cust holds customer numbers
    reviews: dict[str, np.ndarray]  # key, cust, score, minute
    truth: dict[str, np.ndarray]


def _subscription_orders(
    rng: np.random.Generator,
    cal: _Calendar,
    pop: _Population,
    kept: np.ndarray,
    adopter: np.ndarray,
    block: int,
) -> _Orders:
    """Orders of the subscribers: about twice a month from the launch (or their first order) on."""
    n_pop = len(pop.type_code)
    rate = rng.standard_gamma(SUBSCRIBER.rate_shape, n_pop) * (
        SUBSCRIBER.rate_per_year / SUBSCRIBER.rate_shape
    )
    tenure = rng.exponential(30.44 / SUBSCRIPTION_MONTHLY_CHURN, n_pop)
    offset = rng.random(n_pop) * 14.0
    local = np.flatnonzero(adopter)
    who = kept[local]
    begin = np.maximum(float(cal.shift_day), np.floor(pop.acq_day[who]) + 1.0) + offset[who]
    stop = np.minimum(float(cal.period_days), begin + tenure[who])
    mean_gap = _YEAR_DAYS / rate[who]
    n_max = np.ceil(np.maximum(stop - begin, 0.0) / mean_gap * 1.6 + 6).astype(np.int64)
    gaps = rng.gamma(4.0, np.repeat(mean_gap / 4.0, n_max))
    owner = np.repeat(np.arange(len(who)), n_max)
    day = begin[owner] + _within_group_cumsum(gaps, n_max) - gaps
    keep = day < stop[owner]
    owner, day = owner[keep], day[keep]
    minute = _to_minutes(day, _time_of_day(rng, len(day)))
    n = len(day)
    return _Orders(
        cust=local[owner],
        type_code=np.full(n, _SUBSCRIBER_CODE),
        minute=minute,
        first=np.zeros(n, dtype=bool),
        key=_keys(block, "subscription", n),
    )


def _demographics(
    rng: np.random.Generator, type_code: np.ndarray, acq_day: np.ndarray
) -> dict[str, np.ndarray]:
    """Age, gender, income band, acquisition channel, country, region and signup day per customer."""
    n = len(type_code)
    age = np.clip(np.round(rng.normal(_TYPES.age_mean[type_code], _TYPES.age_sd[type_code])), 18, 90)
    gender = _choose(rng, _TYPES.genders, type_code)
    income = _choose(rng, _TYPES.income, type_code)
    acquisition = _choose(rng, _TYPES.acquisition_channels, type_code)
    country_p = np.array(list(COUNTRIES.values()))
    country = rng.choice(len(COUNTRIES), size=n, p=country_p / country_p.sum())
    region_p = np.array(list(UK_REGIONS.values()))
    uk_region = rng.choice(len(UK_REGIONS), size=n, p=region_p / region_p.sum())
    # regions: UK regions first, then one region per foreign country (its name)
    region = np.where(country == 0, uk_region, len(UK_REGIONS) + country - 1)
    signup_day = np.floor(acq_day) - rng.integers(0, 21, n)
    return {
        "age": age.astype(np.int64),
        "gender": gender,
        "income_band": income,
        "acquisition_channel": acquisition,
        "country": country,
        "region": region,
        "signup_day": signup_day,
    }


def _simulate_block(
    cal: _Calendar,
    pop: _Population,
    kept: np.ndarray,
    streams: dict[str, np.random.Generator],
    block: int,
    first_number: int,
    catalogue: _Catalogue,
) -> _Block:
    """Orders, lines, messes, sessions and reviews of the kept customers of one population block."""
    n_pop, n_kept = len(pop.type_code), len(kept)
    period_minutes = cal.period_days * 1440
    local = np.full(n_pop, -1)
    local[kept] = np.arange(n_kept)
    base_type = pop.type_code[kept]
    demographics = _demographics(streams["demographics"], pop.type_code, pop.acq_day)
    demographics = {name: values[kept] for name, values in demographics.items()}
    foreign = demographics["country"] != 0

    # base orders (as without the shift) and everything hanging off them
    mask = local[pop.order_cust] >= 0
    base = _Orders(
        cust=local[pop.order_cust[mask]],
        type_code=pop.type_code[pop.order_cust[mask]],
        minute=pop.order_minute[mask],
        first=pop.order_first[mask],
        key=_keys(block, "base", int(mask.sum())),
    )
    base_lines = _draw_lines(streams["lines"], base, catalogue)
    span_start = np.maximum(pop.acq_day[kept], 0.0)
    span_end = np.minimum(pop.last_day[kept] + 60.0, float(cal.period_days))
    base_sessions = _draw_sessions(
        streams["sessions"], base, base_lines, span_start, span_end, base_type, catalogue
    )
    base_reviews = _draw_reviews(streams["reviews"], base, period_minutes)
    cancel_keys = _keys(block, "base_cancel", len(base.key))
    base_rows = _order_rows(
        streams["messes"], base, base_lines, foreign, cancel_keys, period_minutes, catalogue
    )
    guest_rows = _guest_rows(
        streams["guests"], len(base.key), int(_keys(block, "guest", 1)[0]), cal, catalogue
    )

    # the shift: eligible active customers take up the subscription (streams of their own)
    uptake = streams["uptake"].random(n_pop)[kept]
    adopter = np.zeros(n_kept, dtype=bool)
    if cal.shift_day is not None:
        eligible = np.isin(base_type, [_TYPE_CODES[name] for name in SHIFT_ELIGIBLE_TYPES])
        present = pop.active_at_shift[kept] | (pop.acq_day[kept] >= cal.shift_day)
        adopter = eligible & present & (uptake < SUBSCRIPTION_UPTAKE)
    parts_rows = [base_rows, guest_rows]
    parts_sessions = [base_sessions]
    reviews = [(base, base_reviews)]
    if adopter.any():
        shift_minute = cal.shift_day * 1440
        removed_order = adopter[base.cust] & (base.minute >= shift_minute) & ~base.first
        # base rows of subscribers after the launch disappear (their cancellations with them)
        row_removed = np.where(
            base_rows.cancel,
            adopter[np.maximum(base_rows.cust, 0)] & (base_rows.minute >= shift_minute),
            removed_order[base_rows.order],
        )
        restored = np.zeros(len(base_lines.order), dtype=bool)
        full_cancel = (
            row_removed & base_rows.cancel & (base_rows.quantity == -base_lines.quantity[base_rows.line])
        )
        restored[base_rows.line[full_cancel]] = True
        kept_rows = base_rows.take(np.flatnonzero(~row_removed))
        back = (kept_rows.line >= 0) & ~kept_rows.cancel & (kept_rows.reason == _R["cancelled_purchase"])
        back &= restored[np.maximum(kept_rows.line, 0)]
        kept_rows.reason = np.where(back, _R["kept"], kept_rows.reason)
        parts_rows[0] = kept_rows
        session_removed = np.where(
            base_sessions.converted,
            removed_order[np.maximum(base_sessions.order, 0)],
            adopter[base_sessions.cust] & (base_sessions.minute >= shift_minute),
        )
        parts_sessions[0] = _take_sessions(base_sessions, ~session_removed)
        reviews[0] = (base, _take_reviews(base_reviews, ~removed_order[base_reviews.order]))

        sub = _subscription_orders(streams["sub_orders"], cal, pop, kept, adopter, block)
        sub_lines = _draw_lines(streams["sub_lines"], sub, catalogue)
        sub_type = np.where(adopter, _SUBSCRIBER_CODE, base_type)
        last_sub = np.full(n_kept, -np.inf)
        np.maximum.at(last_sub, sub.cust, sub.minute / 1440.0)
        sub_start = np.where(adopter, float(cal.shift_day), 0.0)
        sub_end = np.where(adopter, np.minimum(last_sub + 60.0, float(cal.period_days)), 0.0)
        parts_sessions.append(
            _draw_sessions(streams["sub_sessions"], sub, sub_lines, sub_start, sub_end, sub_type, catalogue)
        )
        reviews.append((sub, _draw_reviews(streams["sub_reviews"], sub, period_minutes)))
        sub_cancel_keys = _keys(block, "subscription_cancel", len(sub.key))
        parts_rows.append(
            _order_rows(
                streams["sub_messes"], sub, sub_lines, foreign, sub_cancel_keys, period_minutes, catalogue
            )
        )

    rows = _Rows.concat(parts_rows)
    numbers = first_number + np.arange(n_kept)
    rows.cust = np.where(rows.cust >= 0, numbers[np.maximum(rows.cust, 0)], -1)
    sessions = _Sessions(
        **{f: np.concatenate([getattr(s, f) for s in parts_sessions]) for f in _Sessions.__dataclass_fields__}
    )
    sessions.cust = numbers[sessions.cust]
    review_table = {
        "key": np.concatenate([orders.key[r.order] for orders, r in reviews]),
        "cust": np.concatenate([numbers[orders.cust[r.order]] for orders, r in reviews]),
        "score": np.concatenate([r.score for _, r in reviews]),
        "minute": np.concatenate([r.minute for _, r in reviews]),
    }
    truth = {
        "cust": numbers,
        "type": np.where(adopter, _SUBSCRIBER_CODE, base_type),
        "type_before_shift": base_type,
        "shifted": adopter,
    }
    return _Block(rows, {"cust": numbers, **demographics}, sessions, review_table, truth)


_TYPE_CODES = {t.name: code for code, t in enumerate(_ALL_TYPES)}
_DEFAULT_PLANTED: tuple[int, ...] = tuple(range(len(CUSTOMER_TYPES)))


def _planted_types(types: int | None) -> tuple[int, ...]:
    """Type codes planted for ``types`` (None = the six default types), sorted."""
    if types is None:
        return _DEFAULT_PLANTED
    if (
        isinstance(types, bool)
        or not isinstance(types, int | np.integer)
        or not 2 <= types <= len(TYPE_ORDER)
    ):
        raise ParameterError(
            f"types must be an integer in 2..{len(TYPE_ORDER)} (planted customer types), got {types!r}",
            column="types",
        )
    return tuple(sorted(_TYPE_CODES[name] for name in TYPE_ORDER[: int(types)]))


def _take_sessions(sessions: _Sessions, mask: np.ndarray) -> _Sessions:
    return _Sessions(**{f: getattr(sessions, f)[mask] for f in _Sessions.__dataclass_fields__})


def _take_reviews(reviews: _Reviews, mask: np.ndarray) -> _Reviews:
    return _Reviews(reviews.order[mask], reviews.score[mask], reviews.minute[mask])


# --------------------------------------------------------------------------- assembly
def _iter_blocks(
    cal: _Calendar,
    seed: int,
    n_customers: int,
    catalogue: _Catalogue,
    first_block: int = 0,
    first_number: int = 0,
    planted: tuple[int, ...] | None = None,
) -> Iterator[_Block]:
    """Blocks of kept customers until ``n_customers`` active customers are generated."""
    remaining, block, number = n_customers, first_block, first_number
    while remaining > 0:
        streams = _streams(seed, block)
        pop = _draw_population(cal, streams, planted)
        kept = np.flatnonzero(pop.active)[:remaining]
        if len(kept):
            yield _simulate_block(cal, pop, kept, streams, block, FIRST_CUSTOMER_NUMBER + number, catalogue)
        remaining -= len(kept)
        number += len(kept)
        block += 1


def _take_str(labels: Any, codes: np.ndarray) -> pd.arrays.ArrowStringArray:
    """Strings from integer codes into ``labels`` (-1 = missing), without a Python loop."""
    values = pd.array(np.asarray(labels, dtype=object), dtype="str")
    return values.take(np.asarray(codes, dtype=np.int64), allow_fill=True)


def _timestamps(cal: _Calendar, minutes: np.ndarray) -> np.ndarray:
    base = np.datetime64(cal.start.to_datetime64(), "m")
    return (base + minutes.astype("timedelta64[m]")).astype("datetime64[ns]")


def _number_labels(first: int, n: int, prefix: np.ndarray | None = None) -> pd.arrays.ArrowStringArray:
    """The decimal strings of ``first .. first + n - 1`` (optionally prefixed per value)."""
    text = np.arange(first, first + n).astype(str)
    if prefix is not None:
        text = np.char.add(prefix, text)
    return pd.array(text.astype(object), dtype="str")


def _customer_ids(
    numbers: np.ndarray, labels: pd.arrays.ArrowStringArray, first: int
) -> pd.arrays.ArrowStringArray:
    """Customer ids from customer numbers (``labels`` spells ``first, first + 1, ...``; -1 = missing)."""
    return labels.take(np.where(numbers >= 0, numbers - first, -1), allow_fill=True)


def _frames(
    cal: _Calendar, blocks: list[_Block], catalogue: _Catalogue, invoice_start: int
) -> dict[str, Any]:
    rows = _Rows.concat([b.rows for b in blocks])
    order = np.lexsort((np.arange(len(rows.key)), rows.key, rows.minute))
    rows = rows.take(order)
    # invoice numbers in order of first appearance (time), cancellations with a "C" prefix
    unique_keys, first_pos = np.unique(rows.key, return_index=True)
    rank = np.empty(len(unique_keys), dtype=np.int64)
    rank[np.argsort(first_pos, kind="stable")] = np.arange(len(unique_keys))
    key_is_cancel = np.isin(
        (unique_keys >> _SOURCE_BITS) & 0xF, [_SOURCES["base_cancel"], _SOURCES["subscription_cancel"]]
    )
    prefix = np.where(key_is_cancel[np.argsort(rank)], "C", "")
    invoice_labels = _number_labels(invoice_start, len(unique_keys), prefix)
    invoice_code = rank[np.searchsorted(unique_keys, rows.key)]
    is_product = rows.product < catalogue.n_products
    category = np.where(
        is_product, catalogue.category[np.minimum(rows.product, catalogue.n_products - 1)], -1
    )
    customer_country = np.concatenate([b.customers["country"] for b in blocks])
    first_number = int(blocks[0].customers["cust"][0])
    id_labels = _number_labels(first_number, len(customer_country))
    country = np.where(rows.cust >= 0, customer_country[np.maximum(rows.cust - first_number, 0)], 0)
    amount = np.round(rows.quantity * rows.unit_price, 2)
    transactions = pd.DataFrame(
        {
            "customer_id": _customer_ids(rows.cust, id_labels, first_number),
            "order_id": invoice_labels.take(invoice_code),
            "order_date": _timestamps(cal, rows.minute),
            "product_id": _take_str(catalogue.product_ids, rows.product),
            "description": _take_str(catalogue.description, rows.product),
            "quantity": rows.quantity.astype(np.float64),
            "unit_price": rows.unit_price.astype(np.float64),
            "amount": amount,
            "category": _take_str(_CATEGORY_NAMES, category),
            "channel": _take_str(CHANNELS, rows.channel),
            "country": _take_str(list(COUNTRIES), country),
        }
    )
    messes = {name: int(np.sum(rows.reason == code)) for code, name in enumerate(REASONS)}

    cust = {k: np.concatenate([b.customers[k] for b in blocks]) for k in blocks[0].customers}
    customers = pd.DataFrame(
        {
            "customer_id": _customer_ids(cust["cust"], id_labels, first_number),
            "signup_date": _timestamps(cal, (cust["signup_day"] * 1440).astype(np.int64)),
            "age": cust["age"],
            "gender": _take_str(GENDERS, cust["gender"]),
            "income_band": _take_str(INCOME_BANDS, cust["income_band"]),
            "region": _take_str([*UK_REGIONS, *list(COUNTRIES)[1:]], cust["region"]),
            "country": _take_str(list(COUNTRIES), cust["country"]),
            "acquisition_channel": _take_str(ACQUISITION_CHANNELS, cust["acquisition_channel"]),
        }
    )
    sessions_parts = [b.sessions for b in blocks]
    s = _Sessions(
        **{f: np.concatenate([getattr(p, f) for p in sessions_parts]) for f in _Sessions.__dataclass_fields__}
    )
    s_order = np.lexsort((s.cust, s.minute))
    sessions = pd.DataFrame(
        {
            "customer_id": _customer_ids(s.cust[s_order], id_labels, first_number),
            "session_start": _timestamps(cal, s.minute[s_order]),
            "pages_viewed": s.pages[s_order].astype(np.int64),
            "category_viewed": _take_str(_CATEGORY_NAMES, s.category[s_order]),
            "device": _take_str(DEVICES, s.device[s_order]),
            "converted": s.converted[s_order],
        }
    )
    r = {k: np.concatenate([b.reviews[k] for b in blocks]) for k in blocks[0].reviews}
    r_order = np.lexsort((r["key"], r["minute"]))
    review_code = rank[np.searchsorted(unique_keys, r["key"][r_order])]
    reviews = pd.DataFrame(
        {
            "order_id": invoice_labels.take(review_code),
            "customer_id": _customer_ids(r["cust"][r_order], id_labels, first_number),
            "score": r["score"][r_order].astype(np.int64),
            "review_date": _timestamps(cal, r["minute"][r_order]),
        }
    )
    t = {k: np.concatenate([b.truth[k] for b in blocks]) for k in blocks[0].truth}
    type_names = [ty.name for ty in _ALL_TYPES]
    truth = pd.DataFrame(
        {
            "customer_id": _customer_ids(t["cust"], id_labels, first_number),
            "type": _take_str(type_names, t["type"]),
            "type_before_shift": _take_str(type_names, t["type_before_shift"]),
            "shifted": t["shifted"].astype(bool),
        }
    )
    return {
        "transactions": transactions,
        "customers": customers,
        "sessions": sessions,
        "reviews": reviews,
        "truth": truth,
        "messes": messes,
        "n_invoices": len(unique_keys),
    }


def _products_frame(catalogue: _Catalogue) -> pd.DataFrame:
    n = catalogue.n_products
    return pd.DataFrame(
        {
            "product_id": _take_str(catalogue.product_ids, np.arange(n)),
            "category": _take_str(_CATEGORY_NAMES, catalogue.category[:n]),
            "list_price": catalogue.list_price[:n],
            "description": _take_str(catalogue.description, np.arange(n)),
        }
    )


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}", column=name)
    return int(value)


def make_demo_shop(
    n_customers: int = 20_000,
    start: str | pd.Timestamp = "2022-01-01",
    months: int = 30,
    seed: int = 0,
    shift: bool = True,
    *,
    shift_date: str | pd.Timestamp | None = None,
    history_years: float = 10.0,
    types: int | None = None,
) -> DemoShop:
    """Generate the demo shop (see the module docstring for how, and the targets it meets).

    Parameters
    ----------
    n_customers
        Customers with at least one order in the period (the shop's active customers).
    start
        First day of the period (orders before it are simulated but not kept).
    months
        Length of the period in months.
    seed
        Seed of every random stream; the same arguments give identical frames.
    shift
        Plant the behaviour shift (a delivery subscription launched at ``shift_date``).
    shift_date
        Date of the shift; default ``start`` + max(12, round(2/3 x months)) months. Must lie at least
        12 months after ``start`` and 60 days before the end.
    history_years
        Years of customer acquisition simulated before ``start`` (steady state).
    types
        Number of planted customer types, 2..8: the first ``types`` of :data:`TYPE_ORDER` (the six of
        :data:`CUSTOMER_TYPES`, then :data:`EXTRA_CUSTOMER_TYPES`), each with its own rate, basket,
        churn, dominant category and channel, drawn in proportion to their ``acquisition_share``.
        ``None`` (default) plants the six :data:`CUSTOMER_TYPES`, as does ``types=6``. The shift's
        subscribers come from the planted bargain hunters and occasional buyers.

    Returns
    -------
    DemoShop
        Tables, ground truth, ``shift_date``, parameters and the planted mess counts.

    Raises
    ------
    ParameterError
        When a parameter is out of range (the message names it).
    """
    n_customers = _check_int(n_customers, "n_customers", 1)
    seed = _check_int(seed, "seed", 0)
    planted = _planted_types(types)
    cal = _calendar(start, months, history_years, bool(shift), shift_date)
    catalogue = _make_catalogue(seed)
    blocks = list(_iter_blocks(cal, seed, n_customers, catalogue, planted=planted))
    frames = _frames(cal, blocks, catalogue, FIRST_INVOICE_NUMBER)
    params = {
        "n_customers": n_customers,
        "start": str(cal.start.date()),
        "end": str(cal.end.date()),
        "months": int(months),
        "seed": seed,
        "shift": bool(shift),
        "shift_date": None if cal.shift_date is None else str(cal.shift_date.date()),
        "history_years": float(history_years),
        "n_blocks": len(blocks),
        **({} if types is None else {"types": int(types)}),
    }
    return DemoShop(
        transactions=frames["transactions"],
        customers=frames["customers"],
        products=_products_frame(catalogue),
        sessions=frames["sessions"],
        reviews=frames["reviews"],
        truth=frames["truth"],
        shift_date=cal.shift_date,
        params=params,
        messes=frames["messes"],
    )


# --------------------------------------------------------------------------- writing
LAYOUTS = ("generic", "olist", "online_retail_ii")
#: File name of the Online Retail II layout (the UCI workbook's sheets exported as one CSV).
ONLINE_RETAIL_II_FILE = "online_retail_II.csv"
_OLIST_DATE = "%Y-%m-%d %H:%M:%S"


def _meta(shop: DemoShop) -> dict[str, Any]:
    return {
        "generator": "segkit.datasets.make_demo_shop",
        **shop.params,
        "shift_date": None if shop.shift_date is None else str(shop.shift_date.date()),
        "messes": shop.messes,
        "tables": {name: int(len(getattr(shop, name))) for name in _GENERIC_TABLES},
    }


_GENERIC_TABLES = ("transactions", "customers", "products", "sessions", "reviews", "truth")


def _write_generic(shop: DemoShop, folder: Path) -> None:
    from segkit.io import write_json_atomic, write_parquet_atomic

    for name in _GENERIC_TABLES:
        write_parquet_atomic(getattr(shop, name), folder / f"{name}.parquet", index=False)
    write_json_atomic(_meta(shop), folder / "meta.json")


def _write_online_retail_ii(shop: DemoShop, folder: Path) -> None:
    """One CSV as the UCI Online Retail II data is shared (customer ids as floats, as in the source)."""
    from segkit.io import write_csv_atomic

    tx = shop.transactions
    frame = pd.DataFrame(
        {
            "Invoice": tx["order_id"],
            "StockCode": tx["product_id"],
            "Description": tx["description"],
            "Quantity": tx["quantity"].astype(np.int64),
            "InvoiceDate": tx["order_date"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "Price": tx["unit_price"],
            "Customer ID": pd.to_numeric(tx["customer_id"]).astype(np.float64),
            "Country": tx["country"],
        }
    )
    write_csv_atomic(frame, folder / ONLINE_RETAIL_II_FILE, neutralise=False)  # a raw source file


def _hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 32-character hexadecimal ids (Olist style), vectorised."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    raw = rng.integers(0, 16, size=(n, 32), dtype=np.uint8)
    return digits[raw].view("S32").ravel().astype(str)


def _olist_tables(shop: DemoShop) -> dict[str, pd.DataFrame]:
    """The Kaggle Olist tables of the shop's clean purchases.

    The log is cleaned first (:func:`segkit.cleaning.clean_transactions`): Olist has no cancellation
    lines, guest orders or non-product lines. Orders whose every line was cancelled get the status
    ``canceled``; the others are ``delivered`` with the net quantities. Each unit is one item row
    (``order_item_id`` 1, 2, ...), freight is 0 so an item's amount is its price.
    """
    from segkit.cleaning import clean_transactions

    rng = np.random.default_rng(np.random.SeedSequence(shop.params.get("seed", 0), spawn_key=(2_000_000,)))
    clean, report = clean_transactions(shop.transactions)
    tx = shop.transactions
    cancelled_lines = tx.loc[report.reasons.to_numpy() == "cancelled_purchase"]
    cancelled_orders = cancelled_lines.loc[~cancelled_lines["order_id"].isin(clean["order_id"])]
    lines = pd.concat([clean.assign(status="delivered"), cancelled_orders.assign(status="canceled")])
    lines = lines.sort_values(["order_date", "order_id"], kind="stable")
    orders = lines.drop_duplicates("order_id")[["order_id", "customer_id", "order_date", "status", "channel"]]
    per_order_customer = _hex_ids(rng, len(orders))
    purchase = orders["order_date"]
    orders_frame = pd.DataFrame(
        {
            "order_id": orders["order_id"].to_numpy(),
            "customer_id": per_order_customer,
            "order_status": orders["status"].to_numpy(),
            "order_purchase_timestamp": purchase.dt.strftime(_OLIST_DATE).to_numpy(),
            "order_approved_at": (purchase + pd.Timedelta(minutes=15)).dt.strftime(_OLIST_DATE).to_numpy(),
            "order_delivered_carrier_date": (purchase + pd.Timedelta(days=1))
            .dt.strftime(_OLIST_DATE)
            .to_numpy(),
            "order_delivered_customer_date": (purchase + pd.Timedelta(days=4))
            .dt.strftime(_OLIST_DATE)
            .to_numpy(),
            "order_estimated_delivery_date": (purchase + pd.Timedelta(days=10))
            .dt.strftime("%Y-%m-%d 00:00:00")
            .to_numpy(),
        }
    )
    units = lines["quantity"].to_numpy().astype(np.int64)
    items = lines.loc[lines.index.repeat(units)] if len(lines) else lines
    item_number = items.groupby("order_id", sort=False).cumcount() + 1
    items_frame = pd.DataFrame(
        {
            "order_id": items["order_id"].to_numpy(),
            "order_item_id": item_number.to_numpy(),
            "product_id": items["product_id"].to_numpy(),
            "seller_id": items["category"].map(_seller_ids()).to_numpy(),
            "shipping_limit_date": (items["order_date"] + pd.Timedelta(days=3))
            .dt.strftime(_OLIST_DATE)
            .to_numpy(),
            "price": items["unit_price"].to_numpy(),
            "freight_value": 0.0,
        }
    )
    totals = items_frame.groupby("order_id", sort=False)["price"].sum()
    payment_type = (
        orders["channel"].map({"marketplace": "boleto", "store": "debit_card"}).fillna("credit_card")
    )
    payments = pd.DataFrame(
        {
            "order_id": orders["order_id"].to_numpy(),
            "payment_sequential": 1,
            "payment_type": payment_type.to_numpy(),
            "payment_installments": 1,
            "payment_value": orders["order_id"].map(totals).round(2).to_numpy(),
        }
    )
    reviews = shop.reviews.loc[shop.reviews["order_id"].isin(orders["order_id"])]
    reviews_frame = pd.DataFrame(
        {
            "review_id": _hex_ids(rng, len(reviews)),
            "order_id": reviews["order_id"].to_numpy(),
            "review_score": reviews["score"].to_numpy(),
            "review_comment_title": "",
            "review_comment_message": "",
            "review_creation_date": reviews["review_date"].dt.strftime("%Y-%m-%d 00:00:00").to_numpy(),
            "review_answer_timestamp": (reviews["review_date"] + pd.Timedelta(days=1))
            .dt.strftime(_OLIST_DATE)
            .to_numpy(),
        }
    )
    region = orders["customer_id"].map(shop.customers.set_index("customer_id")["region"])
    customers_frame = pd.DataFrame(
        {
            "customer_id": per_order_customer,
            "customer_unique_id": orders["customer_id"].to_numpy(),
            "customer_zip_code_prefix": (pd.to_numeric(orders["customer_id"]) % 90_000 + 10_000).to_numpy(),
            "customer_city": region.str.lower().to_numpy(),
            "customer_state": region.to_numpy(),
        }
    )
    products = shop.products
    portuguese = {name: spec[0] for name, spec in CATEGORIES.items()}
    size = rng.integers(5, 60, size=(len(products), 3))
    products_frame = pd.DataFrame(
        {
            "product_id": products["product_id"].to_numpy(),
            "product_category_name": products["category"].map(portuguese).to_numpy(),
            "product_name_lenght": products["description"].str.len().to_numpy(),
            "product_description_lenght": rng.integers(100, 2000, len(products)),
            "product_photos_qty": rng.integers(1, 6, len(products)),
            "product_weight_g": rng.integers(50, 5000, len(products)),
            "product_length_cm": size[:, 0],
            "product_height_cm": size[:, 1],
            "product_width_cm": size[:, 2],
        }
    )
    translation = pd.DataFrame(
        {
            "product_category_name": list(portuguese.values()),
            "product_category_name_english": list(portuguese),
        }
    )
    return {
        "orders": orders_frame,
        "order_items": items_frame,
        "order_payments": payments,
        "order_reviews": reviews_frame,
        "customers": customers_frame,
        "products": products_frame,
        "category_translation": translation,
    }


def _seller_ids() -> dict[str, str]:
    """One seller per category (a stable 32-character id derived from the category name)."""
    import hashlib

    return {name: hashlib.md5(name.encode()).hexdigest() for name in CATEGORIES}


def _write_olist(shop: DemoShop, folder: Path) -> None:
    from segkit.io import write_csv_atomic

    for name, frame in _olist_tables(shop).items():
        write_csv_atomic(frame, folder / f"{OLIST_FILES[name]}.csv", neutralise=False)  # raw source


_WRITERS = {"generic": _write_generic, "olist": _write_olist, "online_retail_ii": _write_online_retail_ii}


@contextmanager
def _replace_folder(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside ``folder`` that replaces it on success (removed on failure)."""
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise ParameterError(f"{target} exists and is not a folder", column="folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        yield tmp
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.replace(target, old / target.name)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_demo_shop(shop: DemoShop, folder: str | os.PathLike[str], layout: str = "generic") -> Path:
    """Write a demo shop to ``folder`` in a layout that :func:`segkit.read_dataset` reads back.

    Parameters
    ----------
    shop
        A shop from :func:`make_demo_shop`.
    folder
        Output folder; it is replaced as a whole (written beside it, then renamed into place), so a
        failure leaves the previous content untouched and nothing partial.
    layout
        ``"generic"``: ``transactions.parquet``, ``customers.parquet``, ``products.parquet``,
        ``sessions.parquet``, ``reviews.parquet``, ``truth.parquet`` and ``meta.json`` (seed,
        n_customers, shift_date, mess counts). ``"olist"``: the seven Kaggle Olist CSV files with
        Olist's column names (the cleaned purchases: Olist has no cancellation or non-product lines;
        ``customer_unique_id`` is the shop's customer id, ``customer_id`` a per-order id; one item row per
        unit; freight 0). ``"online_retail_ii"``: ``online_retail_II.csv`` with the UCI columns
        ``Invoice, StockCode, Description, Quantity, InvoiceDate, Price, Customer ID, Country``, every
        line including the messes (read it back with ``layout="online_retail"``).

    Returns
    -------
    pathlib.Path
        The folder.
    """
    if not isinstance(shop, DemoShop):
        raise ParameterError(f"shop must be a DemoShop, got {type(shop).__name__}", column="shop")
    if layout not in _WRITERS:
        raise ParameterError(
            f"unknown layout {layout!r}", column="layout", hint=f"choose one of {', '.join(LAYOUTS)}"
        )
    with _replace_folder(folder) as tmp:
        _WRITERS[layout](shop, tmp)
    return Path(folder)


def write_large_demo_shop(
    folder: str | os.PathLike[str],
    n_customers: int = 1_000_000,
    *,
    chunk_customers: int = 100_000,
    start: str | pd.Timestamp = "2022-01-01",
    months: int = 30,
    seed: int = 0,
    shift: bool = True,
    shift_date: str | pd.Timestamp | None = None,
    history_years: float = 10.0,
) -> Path:
    """Generate a shop of any size chunk by chunk into partitioned Parquet (generic layout).

    Memory stays bounded by one chunk: population blocks are generated (each with its own seeds, as in
    :func:`make_demo_shop`) until about ``chunk_customers`` customers are collected, then written as one
    part of each table: ``transactions.parquet/part-00000.parquet``, ... (a Parquet dataset folder that
    :func:`segkit.read_dataset` and pandas read as one table), ``products.parquet`` and ``meta.json``.
    The customers, their behaviour and the planted messes are those of
    ``make_demo_shop(n_customers, ...)`` with the same arguments; only invoice numbers differ (they are
    chronological inside each chunk, and chunks take consecutive number ranges).

    Returns
    -------
    pathlib.Path
        The folder (replaced as a whole; nothing partial is left on failure).
    """
    from segkit.io import write_json_atomic, write_parquet_atomic

    n_customers = _check_int(n_customers, "n_customers", 1)
    chunk_customers = _check_int(chunk_customers, "chunk_customers", 1)
    seed = _check_int(seed, "seed", 0)
    cal = _calendar(start, months, history_years, bool(shift), shift_date)
    catalogue = _make_catalogue(seed)
    tables = ("transactions", "customers", "sessions", "reviews", "truth")
    totals = dict.fromkeys(tables, 0)
    messes = dict.fromkeys(REASONS, 0)
    invoice, part, pending = FIRST_INVOICE_NUMBER, 0, []
    with _replace_folder(folder) as tmp:

        def flush() -> None:
            nonlocal invoice, part
            frames = _frames(cal, pending, catalogue, invoice)
            for name in tables:
                write_parquet_atomic(
                    frames[name], tmp / f"{name}.parquet" / f"part-{part:05d}.parquet", index=False
                )
                totals[name] += len(frames[name])
            for reason, count in frames["messes"].items():
                messes[reason] += count
            invoice += frames["n_invoices"]
            part += 1
            pending.clear()

        for block in _iter_blocks(cal, seed, n_customers, catalogue):
            pending.append(block)
            if sum(len(b.truth["cust"]) for b in pending) >= chunk_customers:
                flush()
        if pending:
            flush()
        write_parquet_atomic(_products_frame(catalogue), tmp / "products.parquet", index=False)
        params = {
            "generator": "segkit.datasets.write_large_demo_shop",
            "n_customers": n_customers,
            "start": str(cal.start.date()),
            "end": str(cal.end.date()),
            "months": int(months),
            "seed": seed,
            "shift": bool(shift),
            "shift_date": None if cal.shift_date is None else str(cal.shift_date.date()),
            "history_years": float(history_years),
            "chunk_customers": chunk_customers,
            "parts": part,
            "messes": messes,
            "tables": totals,
        }
        write_json_atomic(params, tmp / "meta.json")
    return Path(folder)
