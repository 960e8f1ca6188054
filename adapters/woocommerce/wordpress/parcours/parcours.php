<?php
/**
 * Plugin Name:       Parcours
 * Plugin URI:        https://github.com/parcours/parcours
 * Description:       Follows your shoppers through the customer journey: shipping estimate, express pay and guest checkout widgets, review stars, and the funnel in your Parcours dashboard.
 * Version:           0.1.0
 * Requires at least: 6.9
 * Requires PHP:      8.1
 * Requires Plugins:  woocommerce
 * WC requires at least: 10.0
 * Author:            Parcours
 * License:           GPL-2.0-or-later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       parcours
 * Domain Path:       /languages
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

define( 'PARCOURS_VERSION', '0.1.0' );
define( 'PARCOURS_FILE', __FILE__ );
define( 'PARCOURS_DIR', __DIR__ );

// Pure functions first (no WordPress state): the classes below and the tests use them.
require_once PARCOURS_DIR . '/includes/functions-config.php';
require_once PARCOURS_DIR . '/includes/functions-reviews.php';
require_once PARCOURS_DIR . '/includes/functions-shipping.php';
require_once PARCOURS_DIR . '/includes/functions-templates.php';
require_once PARCOURS_DIR . '/includes/functions-mounts.php';
require_once PARCOURS_DIR . '/includes/functions-dashboard.php';

require_once PARCOURS_DIR . '/includes/class-parcours-options.php';
require_once PARCOURS_DIR . '/includes/class-parcours-settings.php';
require_once PARCOURS_DIR . '/includes/class-parcours-dashboard.php';
require_once PARCOURS_DIR . '/includes/class-parcours-storefront.php';
require_once PARCOURS_DIR . '/includes/class-parcours-mounts.php';
require_once PARCOURS_DIR . '/includes/class-parcours-reviews.php';
require_once PARCOURS_DIR . '/includes/class-parcours-shipping-estimate.php';
require_once PARCOURS_DIR . '/includes/class-parcours-stitching.php';
require_once PARCOURS_DIR . '/includes/class-parcours-plugin.php';

Parcours_Plugin::boot();
