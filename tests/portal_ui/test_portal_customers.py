"""Contoso's customer database kept from the page: Alice adds a customer (a number not in E.164 is refused in words
before anything is sent, a number that already belongs to another customer is refused by the server in words, and
nothing typed is lost), finds the new customer by search, edits a customer's notes, and the next call from that
customer rings with the new notes; a customer deleted (asked twice) is gone."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from callbridge.demo import CUSTOMERS
from tests.conftest import Demo
from tests.integration.test_carrier_api import api, wait_for_phone
from tests.portal_ui.conftest import OpenPortal, screenshot

pytestmark = pytest.mark.browser
KIM, SOPHIE = CUSTOMERS[0][0], CUSTOMERS[4][0]


async def test_alice_adds_edits_and_deletes_customers(platform: Demo, open_portal: OpenPortal) -> None:
    alice = await open_portal("alice")
    page = alice.page
    customers = page.locator(".customers")
    form = page.get_by_role("dialog", name="New customer")
    await customers.get_by_role("button", name="New customer").click()
    await expect(form.get_by_label("Name")).to_be_focused()
    await form.get_by_label("Name").fill("Lina Park")
    await form.get_by_label("Company").fill("Northwind Traders")
    await form.get_by_label("Phone numbers").fill("+1 425 555 0199\n425 555 0198")
    await form.get_by_label("Notes").fill("Met at the trade fair.")
    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("alert")).to_have_text("425 555 0198: Start with + and the country code, "
                                                         "e.g. +1 206 555 0100.")
    await form.get_by_label("Phone numbers").fill(f"+1 425 555 0199\n{KIM}")
    await form.get_by_role("button", name="Save").click()
    await expect(form.get_by_role("alert")).to_contain_text(f"Could not save: {KIM} already belongs to the customer")
    await expect(form.get_by_label("Notes")).to_have_value("Met at the trade fair.")  # nothing typed is lost
    await screenshot(page, "customer-form")
    await form.get_by_label("Phone numbers").fill("+1 425 555 0199")
    await form.get_by_role("button", name="Save").click()
    await expect(form).to_be_hidden()
    await customers.get_by_role("searchbox").fill("Northwind")
    await customers.get_by_role("button", name="Search").click()
    await expect(customers.locator(".customer")).to_have_count(1)
    await expect(customers.locator(".customer")).to_contain_text("Lina ParkNorthwind Traders · Met at the trade fair.")
    await expect(customers.get_by_role("button", name="Call Lina Park at +14255550199")).to_be_visible()

    await customers.get_by_role("button", name="Edit Lina Park").click()
    edit = page.get_by_role("dialog", name="Edit Lina Park")
    delete = edit.get_by_role("button", name="Delete customer")
    await delete.click()
    await expect(edit.get_by_role("button", name="Really delete?")).to_be_visible()  # asked once more
    await edit.get_by_role("button", name="Really delete?").click()
    await expect(edit).to_be_hidden()
    await expect(customers.locator(".empty")).to_have_text("No customer matches.")

    # Sophie's card gets a new note, and her next call rings with it
    await customers.get_by_role("searchbox").fill("")
    await customers.get_by_role("button", name="Search").click()
    await customers.get_by_role("button", name="Edit Sophie Turner").click()
    edit = page.get_by_role("dialog", name="Edit Sophie Turner")
    await edit.get_by_label("Notes").fill("Wants the quarterly review moved to Friday.")
    await page.keyboard.press("Escape")  # closing without saving keeps the card as it was
    await expect(edit).to_be_hidden()
    await expect(customers.locator(".customer", has_text="Sophie Turner")).not_to_contain_text("Friday")
    await customers.get_by_role("button", name="Edit Sophie Turner").click()
    await edit.get_by_label("Notes").fill("Wants the quarterly review moved to Friday.")
    await edit.get_by_role("button", name="Save").click()
    await expect(customers.locator(".customer", has_text="Sophie Turner")).to_contain_text("moved to Friday")
    async with api(platform) as c:
        r = await c.post(f"/phones/{SOPHIE}/dial", json={"to": platform.user("alice")["phone_number"]})
    assert r.status_code == 200, r.text
    toast = page.get_by_role("alertdialog", name="Incoming call")
    await expect(toast.locator(".caller-notes")).to_have_text("Wants the quarterly review moved to Friday.")
    await toast.get_by_role("button", name="Decline").click()
    await wait_for_phone(platform, SOPHIE, lambda p: p["state"] == "idle")
    assert alice.errors == [], alice.errors


async def test_a_number_from_the_history_becomes_a_customer_and_is_called_back(open_portal: OpenPortal) -> None:
    """Alice dials a number that is nobody's (the network says it does not exist); in her history she adds it to
    the customers (the form comes filled with the number), the entry takes the new name, and "Call back" calls it
    named."""
    alice = await open_portal("alice")
    page = alice.page
    await page.get_by_role("textbox", name="Phone number").fill("+1 425 555 0142")
    await page.locator(".dial-pad").get_by_role("button", name="Call").click()
    await expect(page.locator(".end-reason")).to_have_text("That number does not exist.")
    await page.get_by_role("button", name="Back to home").click()
    await page.get_by_role("link", name="History").click()
    entry = page.locator(".history-entry").first
    await expect(entry).to_contain_text("+14255550142")
    await entry.get_by_role("button", name="Add +14255550142 to customers").click()
    form = page.get_by_role("dialog", name="New customer")
    await expect(form.get_by_label("Phone numbers")).to_have_value("+14255550142")
    await form.get_by_label("Name").fill("Jamie Lee")
    await form.get_by_label("Company").fill("Fourth Coffee")
    await form.get_by_role("button", name="Save").click()
    await expect(entry.locator("strong")).to_have_text("Jamie Lee")
    await expect(entry.get_by_role("button", name="Add +14255550142 to customers")).to_have_count(0)
    await screenshot(page, "history")
    await entry.get_by_role("button", name="Call Jamie Lee back").click()
    await expect(page.locator(".call .peer")).to_have_text("Jamie Lee")
    await expect(page.locator(".call .peer-about")).to_have_text("Fourth Coffee · +14255550142")
    await expect(page.locator(".end-reason")).to_have_text("That number does not exist.")
    await page.get_by_role("button", name="Back to home").click()
    await expect(page.locator(".customer", has_text="Jamie Lee")).to_be_visible()  # the list knows her too
    await page.get_by_role("button", name="Edit Jamie Lee").click()
    await page.get_by_role("button", name="Delete customer").click()
    await page.get_by_role("button", name="Really delete?").click()
    await expect(page.locator(".customer", has_text="Jamie Lee")).to_have_count(0)
    assert alice.errors == [], alice.errors
