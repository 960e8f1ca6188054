<?php
/**
 * Templates: markup lives in templates/, where every printed value is escaped on output.
 *
 * @package Parcours
 */

defined( 'ABSPATH' ) || exit;

/**
 * Print templates/{name}.php with $args in scope.
 *
 * @param string $name Template name, e.g. "review-stars" (a file name, never a path).
 * @param array  $args Values the template reads as $args[...].
 * @return void
 */
function parcours_print_template( string $name, array $args ): void {
	$file = dirname( __DIR__ ) . '/templates/' . basename( $name ) . '.php';
	if ( is_readable( $file ) ) {
		include $file;
	}
}

/**
 * The HTML of a template, for callers that need it as a string (filters, tests).
 *
 * @param string $name Template name.
 * @param array  $args Values the template reads as $args[...].
 * @return string
 */
function parcours_render_template( string $name, array $args ): string {
	ob_start();
	parcours_print_template( $name, $args );
	return (string) ob_get_clean();
}
